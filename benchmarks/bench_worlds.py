"""Generated worlds: how many worlds per minute, and how long shrinking a finding takes.

For the correct engine and each seeded variant of the generated kasten scenario
(``crashkit/demo/scenarios/kasten_generated.py``), one search under the fault meant to catch the
variant (kill for the others): worlds drawn and crashed until a finding or the budget,
then the finding shrunk. Worlds are derandomized (the same on every run) and the example
database is off, so every search starts from nothing: a variant counts as found from
generated worlds alone. Prints, per
variant: worlds, points, worlds per minute, the worlds until the first finding, the
seconds to shrink it, the shrunk world's size (notes, lines, characters, edits) and its
point, the invariant. Nothing is asserted: the numbers move with the machine. From the
repository:

    python benchmarks/bench_worlds.py [--examples 200] [--sample 6] [--variant V ...]
        [--seed 0] [--jobs J] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import settings

from crashkit.engine.generation import SearchOutcome, WorldSearch
from crashkit.engine.workdir import new_work_dir
from crashkit.launch import make_launcher
from crashkit.options import Options
from crashkit.scenario.generated import Generated, generated_in

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "kasten_generated.py"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="worlds per variant")
    parser.add_argument("--sample", type=int, default=6, help="points per world (0: all)")
    parser.add_argument("--variant", action="append", default=[], help="only these")
    parser.add_argument("--seed", type=int, default=0, help="the seed points are sampled with")
    parser.add_argument("--jobs", type=int, default=None, help="points of a world at once")
    parser.add_argument("--budget", type=float, default=None, help="seconds per variant")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    return parser.parse_args(argv)


def _fault(generated: Generated, variant: str) -> str:
    meant = sorted(generated.shape().catching_faults(variant))
    return meant[0] if meant else "kill"


def _search(generated: Generated, variant: str, options: Options) -> SearchOutcome:
    launcher = make_launcher(options.launcher, generated.preload_modules())
    try:
        fault = _fault(generated, variant)
        search = WorldSearch(
            generated,
            variant,
            fault,
            options.replace(faults=fault),
            launcher,
            new_work_dir(),
            on_progress=_progress(variant),
        )
        return search.run()
    finally:
        launcher.close()


def _progress(variant: str) -> Any:
    started = time.monotonic()

    def progress(worlds: int, points: int) -> None:
        if worlds % 25 == 0:
            elapsed = time.monotonic() - started
            line = f"  {variant}: {worlds} worlds, {points} points, {elapsed:.0f} s"
            print(line, file=sys.stderr, flush=True)

    return progress


def _row(outcome: SearchOutcome) -> dict[str, Any]:
    sys.path.insert(0, str(SCENARIO.parent))
    from kasten_strategies import world_size

    finding = outcome.finding
    row: dict[str, Any] = {
        "variant": outcome.variant,
        "fault": outcome.fault,
        "worlds": outcome.worlds,
        "points": outcome.points,
        "seconds": round(outcome.duration, 1),
        "worlds/min": round(outcome.worlds / outcome.duration * 60, 1) if outcome.duration else 0,
        "found after": outcome.found_after,
        "shrink s": None if outcome.shrink_seconds is None else round(outcome.shrink_seconds, 1),
        "invariant": outcome.invariant,
        "point": f"p{finding.point:02d} {finding.op.kind}" if finding else None,
        "error": outcome.error,
    }
    if finding is not None and outcome.world is not None:
        row["shrunk"] = world_size(outcome.world)
        row["world"] = outcome.world
    return row


def _print(row: dict[str, Any]) -> None:
    size = row.get("shrunk")
    shrunk = (
        f"{size['notes']} notes, {size['lines']} lines, {size['chars']} chars, "
        f"{size['edits']} edits"
        if size
        else "-"
    )
    print(
        f"{row['variant']:<24} {row['fault']:<15} {row['worlds']:>6} {row['points']:>7} "
        f"{row['seconds']:>8} {row['worlds/min']:>9} {row['found after'] or '-':>7} "
        f"{row['shrink s'] if row['shrink s'] is not None else '-':>8}  "
        f"{row['invariant'] or '-':<20} {row['point'] or '-':<22} {shrunk}",
        flush=True,
    )
    if row.get("error"):
        print(f"    error: {row['error']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # The same worlds on every run of the benchmark, and no database (no earlier finding).
    settings.register_profile("crashkit-bench", derandomize=True)
    settings.load_profile("crashkit-bench")
    generated = generated_in(SCENARIO)[0]
    variants = args.variant or list(generated.variants)
    options = Options(
        examples=args.examples,
        sample=args.sample or None,
        seed=args.seed,
        jobs=args.jobs,
        budget=args.budget,
    )
    print(
        f"generated kasten worlds: up to {args.examples} per variant, "
        f"{args.sample or 'every'} point(s) per world, seed {args.seed}"
    )
    print(
        f"{'variant':<24} {'fault':<15} {'worlds':>6} {'points':>7} {'seconds':>8} "
        f"{'worlds/min':>9} {'found':>7} {'shrink s':>8}  {'invariant':<20} {'point':<22} "
        "shrunk world"
    )
    rows = []
    started = time.monotonic()
    for variant in variants:
        row = _row(_search(generated, variant, options))
        _print(row)
        rows.append(row)
    total = time.monotonic() - started
    found = [r["variant"] for r in rows if r["invariant"]]
    print(f"{len(rows)} searches in {total:.0f} s; findings in: {', '.join(found) or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
