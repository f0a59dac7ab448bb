"""Make a synthetic results file shaped like a nightly sweep of a sync engine, and its report.

Used by the report's tests (record builders, a 20,000-point sweep for the
browser's time-to-interactive) and to look at a nightly-size report by hand::

    python scripts/make_sample_results.py --points 20000 -o /tmp/sample.jsonl --report /tmp/r.html

The records follow the results format (``crashkit/output/results.py``): a ``run``, a
``trace`` per scenario variant and fault, a ``point`` per crash point, ``audit``
records for the journal audit and an ``end``. Outcomes are deterministic for
a seed: known-buggy variants fail in recurring windows, one correct variant
regresses under the ``torn`` fault, one row is sampled, and one point's output
holds hostile markup.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Record = dict[str, Any]

HOSTILE = (
    '</script><script>alert(1)</script><img src=x onerror="window.__pwned=1">'
    " & \x00\x1b[31mred\x1b[0m"
)


# -- record builders ----------------------------------------------------------------

#: What each fault does at its point, as the point records say it.
INJECTIONS = {
    "kill": "killed right before it",
    "error": "OSError: [Errno 28] No space left on device (injected)",
    "lost-response": "the remote applied it; the client saw a read timeout",
    "torn": "only its first sectors reached the disk, then killed",
    "powerloss": "power cut right before it: unsynced data and folder entries lost",
    "recovery-crash": "killed right before it, then killed again inside recovery",
}


def op(
    index: int, kind: str, target: str, function: str, file: str, line: int, **detail: Any
) -> Record:
    """One durable operation as the probe records it."""
    return {
        "index": index,
        "kind": kind,
        "target": target,
        "function": function,
        "file": file,
        "line": line,
        "detail": detail,
    }


def scenario_id(scenario: str) -> str:
    return f"scenarios/test_{scenario}.py::{scenario}"


def run_record(started: str = "2026-11-26T02:00:00+00:00", commit: str = "4c1d2e9") -> Record:
    return {
        "type": "run",
        "format": 1,
        "resumed": False,
        "started": started,
        "argv": ["crashkit", "run"],
        "commit": commit,
        "cpus": 2,
    }


def end_record(duration: float, points: int) -> Record:
    return {
        "type": "end",
        "finished": "2026-11-26T02:41:07+00:00",
        "duration": duration,
        "points": points,
    }


def trace(
    scenario: str,
    variant: str,
    operations: list[Record],
    *,
    fault: str = "kill",
    expected: bool = False,
    points: Iterable[int] | None = None,
) -> Record:
    """A trace record; ``points``: the crash points the fault offers (default 1..N+1)."""
    offered = list(range(1, len(operations) + 2)) if points is None else list(points)
    return {
        "type": "trace",
        "scenario": scenario,
        "scenario_id": scenario_id(scenario),
        "variant": variant,
        "fault": fault,
        "points": offered,
        "expected_findings": expected,
        "operations": operations,
        "golden_rounds": [],
        "golden_state": {},
    }


def finding(invariant: str, message: str, diff: str = "") -> Record:
    return {"invariant": invariant, "message": message, "diff": diff}


def round_record(
    number: int, operations: int = 0, mutations: Iterable[str] = (), exit: str = "ok"
) -> Record:
    mutations = list(mutations)
    return {
        "round": number,
        "exit": exit,
        "operations": operations,
        "mutations": mutations,
        "changed": bool(mutations),
        "duration": 0.021 * number,
    }


def point(
    scenario: str,
    variant: str,
    k: int,
    operations: list[Record],
    *,
    findings: Iterable[Record] = (),
    fault: str = "kill",
    expected: bool = False,
    **extra: Any,
) -> Record:
    """A point record; ``extra`` sets or adds fields (output, rounds, nested, artifacts...)."""
    findings = list(findings)
    n = len(operations)
    if k == 0:
        the_op = op(0, "none", "no crash (golden run)", "-", "?", 0)
    elif k == n + 1:
        the_op = op(k, "end", "after the last operation", "-", "?", 0)
    else:
        the_op = operations[k - 1]
    record = {
        "type": "point",
        "scenario": scenario,
        "scenario_id": scenario_id(scenario),
        "variant": variant,
        "fault": fault,
        "point": k,
        "points": n + 1,
        "op": the_op,
        "outcome": "fail" if findings else "pass",
        "expected_findings": expected,
        "findings": findings,
        "rounds": [round_record(1)],
        "duration": 0.05,
        "output": "",
        "replay": f"crashkit replay {scenario_id(scenario)} --variant {variant}"
        + (f" --fault {fault}" if fault != "kill" else "")
        + f" --point {k}",
        "nested": None,
        "injection": INJECTIONS.get(fault, fault) if k else "",
        "artifacts": None,
    }
    record.update(extra)
    return record


def audit(scenario: str, variant: str, uncovered: list[Record]) -> Record:
    return {
        "type": "audit",
        "scenario": scenario,
        "scenario_id": scenario_id(scenario),
        "variant": variant,
        "uncovered": uncovered,
    }


# -- a synthetic sync-engine sweep --------------------------------------------------

#: One note's sync, as the reference engine performs it: (role, kind, target, function, file, line).
NOTE_SYNC = [
    ("begin", "sql.commit", "state.db", "journal_begin", "kasten/wal.py", 41),
    ("create", "fs.create", "notes/{n}.md.tmp", "write_atomic", "kasten/files.py", 22),
    ("write", "fs.write", "notes/{n}.md.tmp", "write_atomic", "kasten/files.py", 24),
    ("fsync", "fs.fsync", "notes/{n}.md.tmp", "write_atomic", "kasten/files.py", 25),
    (
        "rename",
        "fs.rename",
        "notes/{n}.md.tmp -> notes/{n}.md",
        "write_atomic",
        "kasten/files.py",
        26,
    ),
    ("written", "sql.commit", "state.db", "mark_target_written", "kasten/wal.py", 63),
    ("push", "http.patch", "PATCH /v1/pages/{n}", "push_page", "kasten/remote.py", 88),
    (
        "blocks",
        "http.patch",
        "PATCH /v1/blocks/{n}/children",
        "push_blocks",
        "kasten/remote.py",
        121,
    ),
    ("entity", "sql.commit", "state.db", "commit_entity", "kasten/sync.py", 210),
    ("delete", "sql.commit", "state.db", "journal_delete", "kasten/wal.py", 80),
]
SOURCE = {
    "journal_begin": 'db.execute("INSERT INTO sync_wal(entity, op) VALUES (?, ?)", row)',
    "write_atomic": "os.replace(tmp, path)",
    "mark_target_written": 'db.execute("UPDATE sync_wal SET state = ? WHERE id = ?", row)',
    "push_page": "client.pages.update(page_id, properties=props)",
    "push_blocks": "client.blocks.children.append(page_id, children=blocks)",
    "commit_entity": 'db.execute("UPDATE entity_map SET local_hash = ? WHERE path = ?", row)',
    "journal_delete": 'db.execute("DELETE FROM sync_wal WHERE id = ?", (wal_id,))',
    "handle_conflict": "path.write_text(merged)",
}

#: scenario -> (bug variant, the roles at which a crash breaks it, every how many notes).
BUGS = {
    "push": ("wal-delete-before-push", {"push", "blocks"}, 1),
    "conflict": ("conflict-no-wal", {"write", "entity"}, 3),
    "pull": ("inplace-write", {"write", "fsync"}, 2),
    "gc": ("unjournaled-gc", {"delete"}, 2),
}


def note_ops(scenario: str, variant: str, count: int) -> tuple[list[Record], list[str]]:
    """``count`` operations: notes synced one after another; also each operation's role."""
    operations, roles = [], []
    plan = list(NOTE_SYNC)
    if variant == "wal-delete-before-push":  # the seed's bug: the entry goes before the push
        plan = [*plan[:6], plan[9], plan[8], plan[6], plan[7]]
    note = 0
    while len(operations) < count:
        note += 1
        for role, kind, target, function, file, line in plan:
            if scenario == "conflict" and variant == "conflict-no-wal" and role == "write":
                function, file, line = "handle_conflict", "kasten/sync.py", 312
            name = f"n{note:03d}"
            operations.append(
                op(len(operations) + 1, kind, target.format(n=name), function, file, line)
            )
            roles.append(role)
            if len(operations) == count:
                break
    return operations, roles


def _findings(scenario: str, the_op: Record, rng: random.Random) -> list[Record]:
    note = the_op["target"].split("/")[-1].split(".")[0]
    diff = (
        f"--- golden/notes/{note}.md\n+++ recovered/notes/{note}.md\n@@ -1,4 +1,4 @@\n"
        f" # {note}\n-local edit, merged with the remote\n+remote text from before the sync\n"
        " \n tags: sync\n"
        f"~~~ entity_map[{note}].remote_hash:\n- golden:    '{rng.getrandbits(64):016x}'\n"
        f"+ recovered: '{rng.getrandbits(64):016x}'\n"
    )
    found = [
        finding(
            "crash-equivalence",
            "the recovered world differs from the golden run's final state",
            diff,
        )
    ]
    if scenario in ("push", "gc"):
        found.append(
            finding(
                "remote-not-stale",
                f"remote page {note} differs from local "
                f"notes/{note}.md: the push was lost with its journal entry",
            )
        )
    if scenario in ("conflict", "pull"):
        found.append(
            finding(
                "hashes-match-files",
                f"notes/{note}.md: stored hash does not match the file on disk",
            )
        )
    return found


def _variant_points(
    scenario: str, variant: str, fault: str, count: int, rng: random.Random, *, sample: float = 1.0
) -> list[Record]:
    bug, roles_failing, every = BUGS[scenario]
    operations, roles = note_ops(scenario, variant, count)
    expected = variant == bug
    records: list[Record] = [trace(scenario, variant, operations, fault=fault, expected=expected)]
    regress = scenario == "pull" and variant == "correct" and fault == "torn"
    for k in range(count + 2):
        if 0 < k <= count and rng.random() > sample:
            continue
        the_op = operations[k - 1] if 0 < k <= count else None
        role = roles[k - 1] if the_op else ""
        note = (k - 1) // len(NOTE_SYNC) + 1
        fails = the_op is not None and (
            (expected and role in roles_failing and note % every == 0)
            or (regress and role == "rename" and note % 7 == 3)
        )
        extra: Record = {"source": SOURCE.get(the_op["function"], "") if the_op else ""}
        found = _findings(scenario, the_op, rng) if fails and the_op else []
        if found:
            extra["rounds"] = [
                round_record(1, 9, [f"p07 http.patch PATCH /v1/pages/n{note:03d} in push_page"]),
                round_record(2),
            ]
            extra["output"] = f"sync: note n{note:03d}: recovered 1 journal entry\n"
            extra["artifacts"] = f"artifacts/{scenario}-{variant}-{fault}/p{k:05d}"
        records.append(
            point(
                scenario,
                variant,
                k,
                operations,
                findings=found,
                fault=fault,
                expected=expected,
                **extra,
            )
        )
    return records


def _audits() -> list[Record]:
    records = []
    for scenario, (bug, _, _) in BUGS.items():
        operations, roles = note_ops(scenario, bug, 40)
        unjournaled = {"push": {"push", "blocks"}, "conflict": {"write"}, "gc": {"delete"}}
        uncovered = [
            {
                **{k: o[k] for k in ("index", "kind", "target", "function", "file", "line")},
                "entity": o["target"].split("/")[-1].split(" ")[0],
                "reason": "no open journal entry covers this entity",
            }
            for o, role in zip(operations, roles, strict=True)
            if role in unjournaled.get(scenario, set())
        ]
        records.append(audit(scenario, bug, uncovered[:6]))
        records.append(audit(scenario, "correct", []))
    return records


def synthetic(
    points: int = 20_000, seed: int = 0, *, hostile: bool = True, sampled: bool = True
) -> list[Record]:
    """A sweep of ``points`` points: 4 scenarios x 2 variants x 2 faults (one row sampled)."""
    rng = random.Random(seed)
    rows = [(s, v, f) for s in BUGS for v in ("correct", BUGS[s][0]) for f in ("kill", "torn")]
    per_row = max(points // len(rows) - 2, 1)
    records = [run_record()]
    for scenario, variant, fault in rows:
        sample = 0.5 if sampled and (scenario, variant, fault) == ("gc", "correct", "torn") else 1.0
        records += _variant_points(scenario, variant, fault, per_row, rng, sample=sample)
    records += _audits()
    if hostile:
        failing = next(r for r in records if r["type"] == "point" and r["outcome"] == "fail")
        failing["output"] = HOSTILE
        failing["findings"][0]["message"] = HOSTILE
    ran = sum(r["type"] == "point" for r in records)
    records.append(end_record(duration=ran / 95.0, points=ran))
    return records


def previous_of(records: list[Record], seed: int = 1) -> list[Record]:
    """The same sweep as it stood the night before: a few points flipped either way.

    Unexpected failures (in a correct variant) passed the night before: a regression.
    """
    rng = random.Random(seed)
    earlier = []
    for record in records:
        record = dict(record)
        regressed = record["type"] == "point" and record["outcome"] == "fail"
        regressed = regressed and not record["expected_findings"]
        if regressed or (record["type"] == "point" and rng.random() < 0.004):
            failed = record["outcome"] == "fail"
            record["outcome"] = "pass" if failed else "fail"
            record["findings"] = [] if failed else [finding("journal-drained", "1 entry left")]
        earlier.append(record)
    return earlier


def write_jsonl(records: Iterable[Record], path: str | Path) -> Path:
    """Write records as a results file (JSON lines)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", required=True, help="results file to write")
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--previous", help="also write the night before's results here")
    parser.add_argument("--report", help="also render the HTML report here")
    args = parser.parse_args(argv)
    records = synthetic(args.points, args.seed)
    write_jsonl(records, args.output)
    previous = previous_of(records) if args.previous else None
    if previous is not None:
        write_jsonl(previous, args.previous)
    if args.report:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from crashkit.output.report import write_report

        write_report(records, args.report, previous=previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
