"""Artifacts: the crashed worlds of failing points, kept beside the report.

Each kept point is a folder holding its world as recovery left it (files, the
program's database, the fake remote's store), each child's run files (trace,
output, error) and a manifest, ``artifact.json``, with a format version, the
point's results record and the golden state. ``crashkit recheck`` runs the
scenario's invariants on a kept world again, without rerunning anything: after
an invariant was fixed or tightened, a stored nightly failure can be re-judged.
"""

from __future__ import annotations

import json
import shutil
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit.errors import ResultsError
from crashkit.scenario.invariants import Check, Finding, crash_equivalence, run_invariants
from crashkit.scenario.scenario import Scenario, ScenarioRef, World

__all__ = ["ARTIFACT_FORMAT", "ArtifactStore", "Recheck", "recheck"]

#: Bumped when the folder layout or the manifest changes; recheck refuses others.
ARTIFACT_FORMAT = 1
MANIFEST = "artifact.json"
#: Findings that need the program to run again, so a stored world cannot re-judge them.
NOT_RECHECKABLE = frozenset(
    {"converges", "no-hang", "recovery-raises", "recovery-dies", "deterministic", "observe"}
)


@dataclass
class ArtifactStore:
    """Keeps the worlds of failing points under ``root``, at most ``limit`` per variant and
    fault (the first ones: a window of vulnerability repeats itself)."""

    root: Path
    limit: int = 5
    _counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        """Remove the artifacts this folder holds (only folders with a manifest: never anything
        else a user pointed it at)."""
        for manifest in self.root.glob(f"*/{MANIFEST}"):
            shutil.rmtree(manifest.parent)

    def keep(
        self,
        record: Mapping[str, Any],
        run_folder: Path,
        world: str,
        golden_state: Mapping[str, Any],
    ) -> str | None:
        """Copy a failing point's run folder; the folder's path relative to the report folder.

        Args:
            record: the point's results record.
            run_folder: the folder holding the point's world and its children's run files.
            world: the failing world's path inside ``run_folder``.
        """
        key = (record["scenario_id"], record["variant"], record["fault"])
        with self._lock:
            if self._counts.get(key, 0) >= self.limit:
                return None
            self._counts[key] = self._counts.get(key, 0) + 1
        tag = zlib.crc32(record["scenario_id"].encode()) % 10_000  # two files, one name
        name = (
            f"{record['scenario']}.{tag:04d}-{record['variant']}-{record['fault']}-"
            f"p{record['point']:03d}"
        )
        target = self.root / name
        self.root.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(run_folder, target, symlinks=True)
        manifest = {
            "format": ARTIFACT_FORMAT,
            "world": world,
            "record": dict(record),
            "golden_state": golden_state,
        }
        (target / MANIFEST).write_text(json.dumps(manifest, default=str, indent=1))
        return str(target.relative_to(self.root.parent))


@dataclass(frozen=True)
class Recheck:
    """A stored failing point judged again."""

    folder: Path
    record: dict[str, Any]
    #: The invariants that failed when the point ran.
    stored: list[str]
    #: The findings of the invariants that can be re-judged on the stored world, now.
    now: list[Finding]
    #: Invariants asking for pytest fixtures: not judged outside pytest.
    needs_pytest: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[str]:
        """Stored findings that need a rerun (hangs, convergence...) or pytest to be judged."""
        return [n for n in self.stored if n in NOT_RECHECKABLE or n in self.needs_pytest]

    @property
    def changed(self) -> bool:
        judged = {name for name in self.stored if name not in self.skipped}
        return judged != {f.invariant for f in self.now}

    def to_json(self) -> dict[str, Any]:
        return {
            "now": sorted({f.invariant for f in self.now}),
            "changed": self.changed,
            "skipped": self.skipped,
        }


def recheck(folder: str | Path) -> Recheck:
    """Run a kept point's invariants (and crash equivalence) on its stored world again.

    Raises:
        ResultsError: the folder is not an artifact, or one of another format version.
    """
    folder = Path(folder)
    manifest = _manifest(folder)
    record = manifest["record"]
    scenario = _scenario(record["scenario_id"])
    env = dict(scenario.variants.get(record["variant"], {}))
    world = World(folder / manifest["world"], record["variant"], env)
    golden = manifest["golden_state"]
    state = dict(scenario.observe(world))
    differs = "the stored world differs from the golden state"
    equivalence = crash_equivalence(scenario.crash_equivalence, golden, state, differs)
    now: list[Finding] = [equivalence] if equivalence is not None else []
    plain, asking = scenario.split_invariants()
    needs_pytest = [_name(i) for i in asking]
    now += run_invariants(plain, Check(world, state, golden, record["rounds"]))
    stored = sorted({f["invariant"] for f in record["findings"]})
    return Recheck(folder, record, stored, now, needs_pytest)


def _name(invariant: Any) -> str:
    return str(getattr(invariant, "name", None) or getattr(invariant, "__name__", invariant))


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        raise ResultsError(f"{folder}: no {MANIFEST}; point at a folder under reports/artifacts")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != ARTIFACT_FORMAT:
        raise ResultsError(
            f"{folder}: artifact format {manifest.get('format')!r}, this crashkit reads "
            f"{ARTIFACT_FORMAT}; rerun the point with `crashkit replay`"
        )
    return manifest


def _scenario(scenario_id: str) -> Scenario:
    path, _, attribute = scenario_id.partition("::")
    if not attribute:
        raise ResultsError(f"scenario id {scenario_id!r} names no file; cannot re-check it")
    return ScenarioRef(path, attribute).load()
