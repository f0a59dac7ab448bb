"""Generated scenarios: a world drawn from a hypothesis strategy instead of one fixed value.

A :class:`Generated` pairs a strategy of worlds (plain data: what the files, the remote
and each side's edits hold) with a function that turns one world into an ordinary
:class:`~crashkit.scenario.Scenario`. crashkit draws worlds, crashes each one at its
points, and shrinks a finding to the smallest world that still fails the same way
(:mod:`crashkit.engine.generation`).

A child must rebuild exactly the world its parent drew, without hypothesis: the
world travels as JSON, inside a :class:`GeneratedRef` (a scenario reference plus
the world), and the child decodes it and calls ``build`` again. The same JSON is
what the results file keeps under ``world`` and what ``crashkit replay --world``
takes back.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit.errors import ScenarioError, UsageError
from crashkit.scenario.scenario import (
    Scenario,
    ScenarioRef,
    _import_file,
    scenario_files,
    scenarios_in,
)

__all__ = [
    "Generated",
    "GeneratedRef",
    "decode_world",
    "encode_world",
    "generated_in",
    "load_all",
    "resolve_generated",
    "world_of",
]

#: The prefix of a world written inline on a command line (``--world z:eJyr...``).
BLOB_PREFIX = "z:"


def _plain(world: Any) -> Any:
    """A dataclass world as its fields (tuples as lists); anything else as it is."""
    if dataclasses.is_dataclass(world) and not isinstance(world, type):
        return json.loads(json.dumps(dataclasses.asdict(world)))
    return world


def _identity(data: Any) -> Any:
    return data


def _nothing(world: Any) -> dict[str, Any]:
    return {}


@dataclass
class Generated:
    """A scenario whose world is drawn from a hypothesis strategy.

    Args:
        name: a short identifier, used in test IDs and reports.
        world: a hypothesis strategy drawing worlds; a world is plain data (JSON-able
            values, or a dataclass of them), so that it can be stored and replayed.
        build: the scenario for one drawn world: ``build(world) -> Scenario``. Its setup
            builds that world; its other parts may use it too.
        variants: the engine variants, as for :class:`~crashkit.scenario.Scenario`.
        expect_findings: the known-buggy variants (a list, or a mapping to the fault kinds
            meant to catch each), as for :class:`~crashkit.scenario.Scenario`.
        encode: the world as JSON data (default: a dataclass's fields, else the world).
        decode: the world back from that data (default: the data itself).
        preload: modules the fork server imports once (the program, the strategy's).
    """

    name: str
    world: Any
    build: Callable[[Any], Scenario]
    variants: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: {"default": {}})
    expect_findings: Collection[str] | Mapping[str, Collection[str]] = ()
    encode: Callable[[Any], Any] = _plain
    decode: Callable[[Any], Any] = _identity
    preload: Sequence[str] = ()
    #: Where it was loaded from (set by the loader).
    source: ScenarioRef | None = None

    def __post_init__(self) -> None:
        if not callable(self.build):
            raise ScenarioError(
                self.name,
                f"build={self.build!r} is not callable",
                "pass a function from a drawn world to a Scenario: build=lambda world: ...",
            )
        if not callable(getattr(self.world, "example", None)):
            raise ScenarioError(
                self.name,
                f"world={self.world!r} is not a hypothesis strategy",
                "draw the world with a strategy, e.g. world=st.builds(MyWorld, ...)",
            )
        # The same checks as a scenario's, on a scenario with no phases of its own.
        self.expect_findings = self.shape().expect_findings

    @property
    def id(self) -> str:
        """``path::name`` when loaded from a file, else the name."""
        return self.shape().id

    def shape(self) -> Scenario:
        """A scenario with this one's name, source, variants and expectations (and no
        phases): what the verdict and the point identity read."""
        scenario = Scenario(
            name=self.name,
            setup=_identity,
            workload=_identity,
            restart=_identity,
            observe=_nothing,
            variants=self.variants,
            expect_findings=self.expect_findings,
            preload=self.preload,
        )
        scenario.source = self.source
        return scenario

    def preload_modules(self) -> list[str]:
        return self.shape().preload_modules()

    def scenario_for(self, world: Any) -> Scenario:
        """The scenario of one world (drawn, or decoded from JSON): ``build``'s, named and
        placed as this one, so its points have this scenario's identity.

        Raises:
            ScenarioError: ``build`` raised or returned something else than a Scenario.
        """
        data = self.encode(world)
        try:
            scenario = self.build(world)
        except ScenarioError:
            raise
        except Exception as error:
            raise ScenarioError(
                self.name,
                f"build raised {type(error).__name__}: {error}",
                "build(world) must return a Scenario for every world the strategy draws",
            ) from error
        if not isinstance(scenario, Scenario):
            raise ScenarioError(
                self.name,
                f"build returned {scenario!r}, not a Scenario",
                "return crashkit.Scenario(name=..., setup=..., ...) from build(world)",
            )
        scenario.name = self.name
        scenario.variants = self.variants
        scenario.expect_findings = self.expect_findings
        if self.source is not None:
            scenario.source = GeneratedRef(
                self.source.path, self.source.attribute, json.dumps(data, sort_keys=True)
            )
        return scenario

    def scenario_from_json(self, data: Any) -> Scenario:
        """The scenario of a world stored as JSON data."""
        try:
            world = self.decode(data)
        except Exception as error:
            raise UsageError(
                f"scenario {self.name!r}: the world given cannot be decoded "
                f"({type(error).__name__}: {error}); give the JSON a results file holds "
                "under 'world', or the --world value of a replay line"
            ) from None
        return self.scenario_for(world)


@dataclass(frozen=True)
class GeneratedRef(ScenarioRef):
    """How a child finds a generated scenario's world: the file, the attribute holding the
    :class:`Generated`, and the world as JSON text."""

    world: str = "null"

    def load(self) -> Scenario:
        module = _import_file(Path(self.path))
        generated = getattr(module, self.attribute, None)
        if not isinstance(generated, Generated):
            raise ScenarioError(
                self.attribute,
                f"{self.path} has no generated scenario named {self.attribute!r}",
                "check the name with: crashkit points PATH",
            )
        generated.source = ScenarioRef(str(Path(self.path).resolve()), self.attribute)
        return generated.scenario_from_json(json.loads(self.world))


def world_of(scenario: Scenario) -> Any:
    """The world a generated scenario's scenario was built for, as JSON data (None for a
    scenario that was not generated)."""
    source = scenario.source
    return json.loads(source.world) if isinstance(source, GeneratedRef) else None


def encode_world(data: Any) -> str:
    """A world as one word for a command line: ``z:`` and the zlib-compressed JSON in
    URL-safe base64."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return BLOB_PREFIX + base64.urlsafe_b64encode(zlib.compress(text, 9)).decode()


def decode_world(given: str) -> Any:
    """A world from a ``--world`` value: an inline ``z:...`` word, or a JSON file's path.

    Raises:
        UsageError: neither, with the fix.
    """
    if given.startswith(BLOB_PREFIX):
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(given[len(BLOB_PREFIX) :]))
            return json.loads(raw)
        except (binascii.Error, zlib.error, ValueError) as error:
            raise UsageError(
                f"--world {given[:40]}...: not a world crashkit wrote ({error}); copy the "
                "whole replay line, or give a JSON file"
            ) from None
    path = Path(given)
    if not path.is_file():
        raise UsageError(
            f"--world {given}: no such file, and not an inline world (z:...); give the "
            "replay line's --world value, or a JSON file holding the world"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(
            f"--world {given}: not a JSON file ({error}); fix or regenerate it"
        ) from None


def generated_in(path: Path) -> list[Generated]:
    """The generated scenarios a file defines at module level, in definition order."""
    module = _import_file(path)
    found: dict[int, Generated] = {}
    for attribute, value in vars(module).items():
        if not isinstance(value, Generated) or id(value) in found:
            continue
        here = ScenarioRef(str(path.resolve()), attribute)
        if value.source is not None and Path(value.source.path).resolve() != path.resolve():
            continue  # imported from another file
        value.source = here
        found[id(value)] = value
    return list(found.values())


def load_all(
    paths: Sequence[str], names: Sequence[str] = ()
) -> tuple[list[Scenario], list[Generated]]:
    """Every scenario and generated scenario under ``paths``; ``names`` keeps only those
    (by name or attribute).

    Raises:
        ScenarioError: a name matches neither kind, listing the known ones.
    """
    files = scenario_files(paths)
    scenarios = [s for f in files for s in scenarios_in(f)]
    generated = [g for f in files for g in generated_in(f)]
    if not names:
        return scenarios, generated
    wanted = set(names)

    def named(item: Scenario | Generated) -> set[str]:
        return {item.name, *([item.source.attribute] if item.source else [])}

    every: list[Scenario | Generated] = [*scenarios, *generated]
    missing = wanted - {n for item in every for n in named(item)}
    if missing:
        known = ", ".join(item.name for item in every) or "none"
        raise ScenarioError(
            ", ".join(sorted(missing)), "no such scenario", f"known scenarios: {known}"
        )
    return (
        [s for s in scenarios if named(s) & wanted],
        [g for g in generated if named(g) & wanted],
    )


def resolve_generated(spec: str, default_paths: Sequence[str]) -> Generated:
    """A generated scenario from ``path.py::name``, ``path.py`` (its only one) or a name."""
    path, _, name = spec.partition("::")
    if path.endswith(".py"):
        candidates = generated_in(Path(path))
        if name:
            candidates = [
                g for g in candidates if name in (g.name, g.source and g.source.attribute)
            ]
    else:
        _, found = load_all(default_paths)
        candidates = [g for g in found if spec in (g.name, g.source and g.source.attribute)]
    if len(candidates) != 1:
        listed = ", ".join(g.id for g in candidates) or "none"
        raise ScenarioError(
            spec,
            f"matches {len(candidates)} generated scenarios ({listed})",
            "--world replays a generated scenario: name exactly one, as path.py::name",
        )
    return candidates[0]
