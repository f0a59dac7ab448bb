"""The CLI's summary is a matrix: a line per scenario variant, a column per fault, and at
80 columns every variant name stays whole (the cells wrap instead)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rich.console import Console

from crashkit.cli import summary_table
from crashkit.engine.sweep import VariantSummary
from crashkit.faults import FAULT_KINDS

VARIANTS = [
    "correct",
    "conflict-no-wal",
    "wal-delete-before-push",
    "recovery-deletes-first",
    "rename-without-fsync",
    "push-not-idempotent",
]


@dataclass
class Stub:
    """What the summary asks of a scenario."""

    name: str = "conflict"

    def expects_findings(self, variant: str) -> bool:
        return variant != "correct"

    def catching_faults(self, variant: str) -> frozenset[str]:
        return frozenset({"torn"}) if variant == "rename-without-fsync" else frozenset()


def summaries() -> list[VariantSummary]:
    out = []
    for n, variant in enumerate(VARIANTS):
        s = VariantSummary(Stub(), variant, faults=FAULT_KINDS)  # type: ignore[arg-type]
        s.offered = {f: 0 if f == "lost-response" else 20 for f in FAULT_KINDS}
        s.points = s.passed = 100
        s.ran_by_fault = Counter({f: 20 for f in FAULT_KINDS if f != "lost-response"})
        if n % 2:
            s.failed = n
            s.by_fault = Counter({"kill": n, "powerloss": 2 * n})
        out.append(s)
    return out


def render(width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(summary_table(summaries(), FAULT_KINDS))
    return console.export_text().splitlines()


def test_at_80_columns_every_variant_name_is_whole_on_one_line():
    lines = render(80)
    assert max(len(line) for line in lines) <= 80
    for variant in VARIANTS:
        assert any(f" {variant} " in f" {line} " for line in lines), variant


def test_one_line_per_variant_with_a_cell_per_fault_and_the_verdict():
    lines = [" ".join(line.split()) for line in render(200)]
    head = next(line for line in lines if line.startswith("scenario variant"))
    assert head == "scenario variant " + " ".join(FAULT_KINDS) + " verdict"
    row = next(line for line in lines if " conflict-no-wal " in line)
    assert row == (
        "conflict conflict-no-wal caught 1 no findings no points no findings caught 2 "
        "no findings caught"
    )
    assert "clean clean no points clean clean clean clean" in lines[lines.index(head) + 2]
