"""Scenarios: what to set up, what to crash, how to restart, what must hold afterwards."""

from __future__ import annotations

import fnmatch
import functools
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit.errors import ScenarioError
from crashkit.faults import FAULT_KINDS
from crashkit.scenario.command import is_command
from crashkit.scenario.journal import Journal

__all__ = ["About", "Scenario", "ScenarioRef", "World", "load_scenarios"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class World:
    """The sandbox one run of a scenario sees: a directory holding everything it touches.

    Every run gets its own copy of the setup's snapshot, so runs never see each other.
    """

    #: The world's root directory (the current directory of the program under test).
    root: Path
    #: The engine variant this run exercises.
    variant: str = "default"
    #: The environment variables the variant sets.
    env: Mapping[str, str] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        """A path inside the world."""
        return self.root.joinpath(*parts)


def requested_fixtures(invariant: Any, scenario: str = "?") -> tuple[str, ...]:
    """The pytest fixtures a plain-function invariant asks for: its parameters after the
    first (the world) that have no default. crashkit.Invariant objects ask for none.

    Raises:
        ScenarioError: the function cannot be called with a world.
    """
    if callable(getattr(invariant, "check", None)):
        return ()
    try:
        parameters = list(inspect.signature(invariant).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: called with the world
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not parameters or parameters[0].kind not in (*positional, inspect.Parameter.VAR_POSITIONAL):
        name = getattr(invariant, "__name__", repr(invariant))
        raise ScenarioError(
            scenario,
            f"invariant {name} takes no world",
            f"give it the world as its first parameter: def {name}(world, ...): ...",
        )
    return tuple(
        p.name
        for p in parameters[1:]
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


@dataclass(frozen=True)
class About:
    """A real program a scenario crashes, for its results page in the report.

    Args:
        program: its name, e.g. ``"git"``.
        version: the command printing its version, e.g. ``("git", "--version")``; run once
            per sweep, and its first line recorded with the results.
        documented: what the program's own documentation says, keyed by
            ``variant/fault/invariant`` patterns (``fnmatch``; ``*`` for any part): a
            finding matching one is a documented limit, with that text as the reason; any
            other finding contradicts what the program promises.
        summary: one paragraph: what the scenario does, what restart means for this program.
    """

    program: str
    version: Sequence[str]
    documented: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        """What the results file keeps of it, the installed version included."""
        return {
            "program": self.program,
            "version": installed_version(tuple(self.version)),
            "documented": dict(self.documented),
            "summary": self.summary,
        }

    def limit(self, variant: str, fault: str, invariant: str) -> str | None:
        """The documentation that makes this finding a documented limit (None: it is not)."""
        key = f"{variant}/{fault}/{invariant}"
        found = (text for glob, text in self.documented.items() if fnmatch.fnmatchcase(key, glob))
        return next(found, None)


@functools.cache
def installed_version(argv: tuple[str, ...]) -> str:
    """The first line ``argv`` prints (a program's version), or why there is none."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({' '.join(argv)}: {error})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else f"unknown ({' '.join(argv)} printed nothing)"


Phase = Callable[[World], Any]
Observe = Callable[[World], Mapping[str, Any]]
Context = Callable[[World], AbstractContextManager[Any]]


@dataclass
class Scenario:
    """One crash-consistency scenario.

    Args:
        name: a short identifier, used in test IDs and reports.
        setup: builds the initial world (runs once, uninstrumented, then snapshotted).
        workload: the operation under test; crashed at every durable operation.
        restart: startup recovery plus one sync cycle, run in a fresh process per round.
        observe: the world's state that matters (files, remote, chosen DB columns) as a
            JSON-able mapping; compared between rounds (fixpoint) and against the golden run.
        invariants: checks run on the recovered world: :class:`crashkit.Invariant` objects or
            plain functions ``f(world)`` that assert.
        context: entered in every child around the workload and restart, e.g. routing HTTP to
            a fake remote.
        variants: engine variants to exercise, each a name mapped to environment variables.
        expect_findings: variants known to be buggy: their findings are expected. Either
            names, or a mapping of name to the fault kinds meant to catch it (a bug a kill
            cannot see is not "uncaught" by a kill-only sweep).
        program: module-name prefixes of the program under test (for source locations).
        preload: modules the fork server imports once, so children start warm.
        max_rounds: restart rounds allowed to reach a fixpoint (one more must then be quiet).
        timeout: seconds any single child may run before it is a hang.
        crash_equivalence: whether the recovered world must equal the golden run's final
            state (``True``, the default: ``observe`` of both is compared exactly), not at
            all (``False``), or a function ``f(golden, recovered)`` of the two observed
            states that asserts what "equivalent" means for this program (e.g. a store
            that may lose a write it never acknowledged).
        journal: how to ask the program's journal whether a mutation is covered (the
            journal audit); None skips the audit.
        bookkeeping: glob patterns (relative to the world, ``fnmatch`` style) of files the
            program rewrites on every run whatever the state: its lock file, a listing it
            writes afresh. A restart round that writes only these is still quiet (a
            fixpoint), so ``observe`` must not depend on them.
        about: what a real program's results page says about it (see :class:`About`).
    """

    name: str
    setup: Phase
    workload: Phase
    restart: Phase
    observe: Observe
    invariants: Sequence[Any] = ()
    context: Context | None = None
    variants: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: {"default": {}})
    expect_findings: Collection[str] | Mapping[str, Collection[str]] = ()
    program: Sequence[str] = ()
    preload: Sequence[str] = ()
    max_rounds: int = 5
    timeout: float = 60.0
    journal: Journal | None = None
    bookkeeping: Sequence[str] = ()
    about: About | None = None
    crash_equivalence: bool | Callable[[Any, Any], Any] = True
    #: Where the scenario was loaded from, so children can import it again (set by the loader).
    source: ScenarioRef | None = None

    @property
    def commands(self) -> bool:
        """Whether any phase is a :class:`~crashkit.scenario.command.Command` (black-box)."""
        return any(is_command(getattr(self, p)) for p in ("setup", "workload", "restart"))

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ScenarioError(
                repr(self.name),
                "the name must be a short identifier",
                "use letters, digits, '_', '-' or '.', e.g. Scenario(name='conflict', ...)",
            )
        for part in ("setup", "workload", "restart", "observe"):
            if not callable(getattr(self, part)):
                raise ScenarioError(
                    self.name,
                    f"{part}={getattr(self, part)!r} is not callable",
                    f"pass a function taking the world: def {part}(world): ...",
                )
        self._check_variants()
        self._check_bounds()
        if self.journal is not None and not isinstance(self.journal, Journal):
            raise ScenarioError(
                self.name,
                f"journal={self.journal!r} is not a crashkit.Journal",
                "journal=crashkit.Journal(db='state.db', query='SELECT ...', entity=...)",
            )
        if isinstance(self.bookkeeping, str) or not all(
            isinstance(p, str) for p in self.bookkeeping
        ):
            raise ScenarioError(
                self.name,
                f"bookkeeping={self.bookkeeping!r} is not a list of glob patterns",
                'bookkeeping=["work/*", "*.lck"]',
            )
        if self.about is not None and not isinstance(self.about, About):
            raise ScenarioError(
                self.name,
                f"about={self.about!r} is not a crashkit.About",
                'about=crashkit.About("git", ("git", "--version"), documented={...})',
            )
        if not isinstance(self.crash_equivalence, bool) and not callable(self.crash_equivalence):
            raise ScenarioError(
                self.name,
                f"crash_equivalence={self.crash_equivalence!r} is neither True, False nor a "
                "function",
                "crash_equivalence=False to switch it off, or a function comparing the two "
                "states: def equivalent(golden, recovered): assert ...",
            )
        self.invariants = tuple(self.invariants)
        for check in self.invariants:
            if not (callable(check) or callable(getattr(check, "check", None))):
                raise ScenarioError(
                    self.name,
                    f"invariant {check!r} is not callable",
                    "pass functions f(world) that assert, or crashkit.Invariant objects",
                )
            requested_fixtures(check, self.name)  # a ScenarioError if it cannot take a world

    def _check_variants(self) -> None:
        if not self.variants:
            raise ScenarioError(self.name, "variants is empty", "omit it, or name at least one")
        for name, env in self.variants.items():
            if not isinstance(name, str) or not _NAME.match(name) or not isinstance(env, Mapping):
                raise ScenarioError(
                    self.name,
                    f"variant {name!r}: {env!r} is not a name -> environment mapping",
                    "variants={'correct': {}, 'buggy': {'ENGINE_BUGS': 'x'}}",
                )
        unknown = sorted(set(self.expect_findings) - set(self.variants))
        if unknown:
            raise ScenarioError(
                self.name,
                f"expect_findings names unknown variants {unknown}",
                f"choose among {sorted(self.variants)}",
            )
        given = self.expect_findings
        if isinstance(given, str):
            raise ScenarioError(
                self.name,
                f"expect_findings={given!r} is a string, not a list of variants",
                f"expect_findings=[{given!r}]",
            )
        caught_by = given if isinstance(given, Mapping) else dict.fromkeys(given, ())
        self.expect_findings = {name: frozenset(faults) for name, faults in caught_by.items()}
        for name, faults in self.expect_findings.items():
            if faults - set(FAULT_KINDS):
                raise ScenarioError(
                    self.name,
                    f"expect_findings[{name!r}] names unknown fault kinds "
                    f"{sorted(faults - set(FAULT_KINDS))}",
                    f"choose among {', '.join(FAULT_KINDS)}",
                )

    def _check_bounds(self) -> None:
        if not isinstance(self.max_rounds, int) or self.max_rounds < 1:
            raise ScenarioError(self.name, f"max_rounds={self.max_rounds!r}", "use an int >= 1")
        if not isinstance(self.timeout, int | float) or self.timeout <= 0:
            raise ScenarioError(self.name, f"timeout={self.timeout!r}", "use seconds > 0")

    def is_bookkeeping(self, target: str) -> bool:
        """Whether a write to ``target`` (relative to the world) is the program's
        bookkeeping (see ``bookkeeping``); both names of a rename must be."""
        names = target.split(" -> ")
        return all(any(fnmatch.fnmatchcase(n, p) for p in self.bookkeeping) for n in names)

    @property
    def id(self) -> str:
        """``path::name`` when loaded from a file, else the name."""
        if self.source is None:
            return self.name
        return f"{_display_path(Path(self.source.path))}::{self.source.attribute}"

    def fixture_names(self) -> tuple[str, ...]:
        """The pytest fixtures its invariants ask for (parameters after the world)."""
        names = (n for check in self.invariants for n in requested_fixtures(check, self.name))
        return tuple(dict.fromkeys(names))

    def split_invariants(self) -> tuple[list[Any], list[Any]]:
        """Its invariants: those that take only the world, and those asking for fixtures
        (which only pytest can run)."""
        plain: list[Any] = []
        asking: list[Any] = []
        for check in self.invariants:
            (asking if requested_fixtures(check, self.name) else plain).append(check)
        return plain, asking

    def needs_pytest(self) -> tuple[str, str] | None:
        """Why it cannot run outside pytest, and the fix; None when it can."""
        names = self.fixture_names()
        if not names:
            return None
        return (
            f"its invariants ask for the pytest fixture(s) {', '.join(names)}, which only "
            "pytest provides",
            f"run it with pytest (pytest {self.id.split('::')[0]}), or give those "
            "parameters defaults",
        )

    def preload_modules(self) -> list[str]:
        """What the fork server imports for this scenario: its ``preload`` and its own file."""
        own = [self.source.module] if self.source and "." not in self.source.module else []
        return [*self.preload, *own]

    def expects_findings(self, variant: str) -> bool:
        """Whether ``variant`` is known to be buggy."""
        return variant in self.expect_findings

    def catching_faults(self, variant: str) -> frozenset[str]:
        """The fault kinds meant to catch a known-buggy ``variant`` (empty: any of them)."""
        known = self.expect_findings
        assert isinstance(known, Mapping)  # normalized in __post_init__
        return frozenset(known.get(variant, ()))


@dataclass(frozen=True)
class ScenarioRef:
    """How a child finds a scenario again: the file and the module attribute holding it."""

    path: str
    attribute: str

    @property
    def module(self) -> str:
        """The module name the file is imported under."""
        return _module_name(Path(self.path))

    def load(self) -> Scenario:
        module = _import_file(Path(self.path))
        scenario = getattr(module, self.attribute, None)
        if not isinstance(scenario, Scenario):
            raise ScenarioError(
                self.attribute,
                f"{self.path} has no scenario named {self.attribute!r}",
                "check the name with: crashkit points PATH",
            )
        scenario.source = ScenarioRef(str(Path(self.path).resolve()), self.attribute)
        return scenario


def _module_name(path: Path) -> str:
    """The file's stem (as pytest's default import mode names it), unless that is taken."""
    resolved = path.resolve()
    taken = sys.modules.get(resolved.stem)
    if taken is None or Path(getattr(taken, "__file__", "") or "").resolve() == resolved:
        return resolved.stem
    return "crashkit_scenarios." + re.sub(r"\W", "_", str(resolved.with_suffix("")))


def _import_file(path: Path) -> Any:
    """Import a scenario file by path, with its folder on sys.path (like pytest's prepend)."""
    if not path.is_file():
        raise ScenarioError(
            str(path),
            "no such scenario file",
            "give a path to a .py file (relative to the current folder)",
        )
    name = _module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(str(path), "is not an importable Python file", "point at a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ScenarioError:  # already names the scenario and the fix
        del sys.modules[name]
        raise
    except Exception as error:
        del sys.modules[name]
        raise ScenarioError(str(path), _import_problem(error, path), _import_fix(error)) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_problem(error: Exception, path: Path) -> str:
    """What went wrong importing a scenario file, down to its own line when there is one."""
    if isinstance(error, SyntaxError):
        where = f"line {error.lineno}" + (f", column {error.offset}" if error.offset else "")
        return f"is not valid Python ({error.msg}, {where}):\n  {(error.text or '').rstrip()}"
    own = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    where = f" at line {own[-1].lineno}: {own[-1].line}" if own else ""
    return f"raised {type(error).__name__} while being imported{where}\n  {error}"


def _import_fix(error: Exception) -> str:
    if isinstance(error, TypeError) and "Scenario" in str(error):
        return (
            "Scenario(name=..., setup=..., workload=..., restart=..., observe=...) needs all five"
        )
    return "fix the file so that `python FILE` imports it without an error"


def scenarios_in(path: Path) -> list[Scenario]:
    """The scenarios a file defines at module level, in definition order."""
    module = _import_file(path)
    found: dict[int, Scenario] = {}
    for attribute, value in vars(module).items():
        # Skip scenarios imported from another file, and a second name for the same one.
        if not isinstance(value, Scenario) or id(value) in found:
            continue
        # Absolute: children start in another folder, and the user may change folders.
        here = ScenarioRef(str(path.resolve()), attribute)
        if value.source is not None and Path(value.source.path).resolve() != path.resolve():
            continue
        value.source = here
        found[id(value)] = value
    return list(found.values())


def _display_path(path: Path) -> str:
    try:
        return os.path.relpath(path.resolve())
    except ValueError:
        return str(path.resolve())


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Scenario files under ``paths``: ``test_*.py`` files found recursively, or files named."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("test_*.py") if "__pycache__" not in p.parts))
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError(
                str(path), "no such file or folder", "pass scenario files or folders"
            )
    return files


def load_scenarios(
    paths: Iterable[str | os.PathLike[str]], names: Sequence[str] = ()
) -> list[Scenario]:
    """Load every scenario under ``paths``; ``names`` keeps only those (by name or attribute)."""
    found = [s for f in scenario_files(paths) for s in scenarios_in(f)]
    if names:
        wanted = set(names)
        selected = [
            s for s in found if s.name in wanted or (s.source and s.source.attribute in wanted)
        ]
        missing = (
            wanted - {s.name for s in selected} - {s.source.attribute for s in selected if s.source}
        )
        if missing:
            raise ScenarioError(
                ", ".join(sorted(missing)),
                "no such scenario",
                f"known scenarios: {', '.join(s.name for s in found) or 'none'}",
            )
        return selected
    return found


def resolve(spec: str, default_paths: Sequence[str]) -> Scenario:
    """A scenario from ``path.py::name``, ``path.py`` (its only scenario) or a bare name."""
    path, _, name = spec.partition("::")
    if path.endswith(".py"):
        candidates = scenarios_in(Path(path))
        if name:
            candidates = [
                s for s in candidates if name in (s.name, s.source and s.source.attribute)
            ]
    else:
        candidates = [
            s
            for s in load_scenarios(default_paths)
            if spec in (s.name, s.source and s.source.attribute)
        ]
    if len(candidates) != 1:
        found = ", ".join(s.id for s in candidates) or "none"
        raise ScenarioError(
            spec,
            f"matches {len(candidates)} scenarios ({found})",
            "name exactly one, as path.py::name",
        )
    return candidates[0]
