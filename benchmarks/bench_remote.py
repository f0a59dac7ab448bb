"""Requests per second of the fake Notion's loopback server under the load test's mix.

Runs the load of ``tests/integration/test_remote_load.py`` (``remote_load.py`` beside this
file: 127.0.0.1 only, at most 20 client threads, valid requests mixed with refused and
misbehaving ones) and prints requests/s, p50/p99 latency of the valid requests, the most
threads the process and the server held, and the answers by kind. Nothing is asserted:
the numbers move with the machine and its load. From the repository:

    python benchmarks/bench_remote.py [--requests 5000] [--clients 20] [--threads 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from pathlib import Path

from remote_load import MIX, LoadResult, run_load

from crashkit.remotes.notion.fake import FakeNotion
from crashkit.remotes.server import Limits

#: The kinds a well-behaved client sends and the server answers with 200.
VALID = ("create", "retrieve", "append", "slow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20, help="1-20")
    parser.add_argument("--threads", type=int, default=Limits.threads, help="server workers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    limits = Limits(threads=args.threads, idle_timeout=0.5, request_timeout=0.5)
    with tempfile.TemporaryDirectory() as folder:
        fake = FakeNotion(Path(folder) / "notion.sqlite3")
        root = fake.create_page("bench root")
        with fake.serve(limits=limits) as server:
            result = run_load(
                server.address, root, clients=args.clients, requests=args.requests, seed=args.seed
            )
    _print(result, limits, args)


def _print(result: LoadResult, limits: Limits, args: argparse.Namespace) -> None:
    outcomes = result.outcomes
    valid = sorted(o.seconds for o in outcomes if o.kind in VALID and o.kind != "slow")
    quick = [o for o in outcomes if o.kind not in ("slow", "slowloris", "silent")]
    print(
        f"{len(outcomes)} requests from {args.clients} clients, {limits.threads} server "
        f"workers, {os.cpu_count()} CPUs, in {result.seconds:.2f} s"
    )
    print(f"  {len(outcomes) / result.seconds:.0f} requests/s overall")
    print(
        f"  valid requests: p50 {_ms(valid, 0.50)}, p99 {_ms(valid, 0.99)}, "
        f"max {valid[-1] * 1000:.1f} ms"
    )
    print(
        f"  all but slow/silent clients: p50 {_ms(sorted(o.seconds for o in quick), 0.5)}, "
        f"p99 {_ms(sorted(o.seconds for o in quick), 0.99)}"
    )
    print(
        f"  threads: process max {result.max_threads} (before the load "
        f"{result.threads_before}), server max {result.max_server_threads}"
    )
    answers = Counter(
        (o.kind, o.status, o.body.get("code") if isinstance(o.body, dict) else None)
        for o in outcomes
    )
    print("  answers by kind (status, Notion code; None: closed by the server):")
    for kind in MIX:
        got = ", ".join(
            f"{n} x {s} {c or ''}".rstrip() for (k, s, c), n in answers.items() if k == kind
        )
        print(f"    {kind:14} {got}")


def _ms(sorted_seconds: list[float], quantile: float) -> str:
    if not sorted_seconds:
        return "-"
    index = min(len(sorted_seconds) - 1, int(quantile * len(sorted_seconds)))
    return f"{sorted_seconds[index] * 1000:.1f} ms"


if __name__ == "__main__":
    main()
