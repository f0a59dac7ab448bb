"""One options object for a sweep, built by the CLI and the pytest plugin alike.

Settings come from, lowest first:

1. the defaults below;
2. a ``[tool.crashkit]`` table in the project's ``pyproject.toml``;
3. the ``crashkit_*`` keys of the project's pytest configuration (``pytest.ini``,
   ``[tool.pytest.ini_options]``, ``tox.ini`` or ``setup.cfg``, found as pytest finds
   it);
4. the command line (``crashkit run --sample 20`` or ``pytest --crashkit-sample 20``).

Every value is checked once, here: a bad one is a :class:`~crashkit.errors.UsageError`
that names where it came from and shows the right form.
"""

from __future__ import annotations

import configparser
import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crashkit.errors import UsageError
from crashkit.faults import FAULT_KINDS, KILL, parse_faults
from crashkit.launch import DEFAULT_LAUNCHER, LAUNCHERS
from crashkit.model.outcome import parse_shard

__all__ = ["Options", "load_settings", "project_options", "project_settings"]


@dataclass(frozen=True)
class Options:
    """How to sweep: which faults and points, how many at once, where results go."""

    #: The fault kinds to sweep, in order.
    faults: tuple[str, ...] = (KILL,)
    #: Only these variants (every variant of each scenario when empty).
    variants: tuple[str, ...] = ()
    #: A seeded sample of this many points per variant and fault instead of all of them.
    sample: int | None = None
    #: The sampling seed: the same seed chooses the same points in the CLI and in pytest
    #: (None: 0 for ``crashkit run``; drawn once, and printed, by the pytest plugin).
    seed: int | None = None
    #: Run only shard ``(i, n)`` of the points.
    shard: tuple[int, int] | None = None
    #: Points run at once (None: one per core, plus one).
    jobs: int | None = None
    #: Seconds a child may run (None: each scenario's own).
    timeout: float | None = None
    #: Restart rounds allowed to reach a fixpoint (None: each scenario's own).
    max_rounds: int | None = None
    #: How children are started: a name in :data:`crashkit.launch.LAUNCHERS`.
    launcher: str = DEFAULT_LAUNCHER
    #: Kill a workload child at each kill point instead of recording every state in one run.
    kill_each_point: bool = False
    #: Worlds a generated scenario draws per variant and fault (hypothesis's max_examples).
    examples: int = 20
    #: Seconds a generated scenario spends drawing new worlds per variant and fault (None:
    #: no limit but ``examples``); shrinking a finding goes on past it.
    budget: float | None = None
    #: The JSON lines results file.
    results: str = "reports/results.jsonl"
    #: The HTML report (``none``: no report).
    report: str = "reports/index.html"
    #: Where the worlds of failing points are kept (``none``: nowhere).
    artifacts: str = "reports/artifacts"

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes`` applied, each parsed and checked; None leaves a value."""
        return with_settings(self, {k: v for k, v in changes.items() if v is not None}, "")

    @property
    def wants_report(self) -> bool:
        return self.report.lower() != "none"

    @property
    def wants_artifacts(self) -> bool:
        return self.artifacts.lower() != "none"

    def under(self, folder: Path) -> Options:
        """The output paths (results, report, artifacts) that are relative taken as
        relative to ``folder`` (pytest's rootdir, for settings read from its files)."""
        moved: dict[str, Any] = {}
        for name in ("results", "report", "artifacts"):
            value = getattr(self, name)
            if value.lower() != "none" and not Path(value).is_absolute():
                moved[name] = str(folder / value)
        return dataclasses.replace(self, **moved)

    def facts(self) -> dict[str, Any]:
        """What a results file's run record says of the sweep: the fault kinds asked for and
        every kind there is (so the report can name those not run), the sample and shard."""
        return {
            "faults": list(self.faults),
            "fault_kinds": list(FAULT_KINDS),
            "sample": self.sample,
            "shard": None if self.shard is None else "/".join(map(str, self.shard)),
        }


def _whole(least: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        try:
            number = int(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
        if number < least:
            raise ValueError(f"{number} is less than {least}")
        return number

    return parse


def _faults(value: object) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(parse_faults([str(v) for v in values]))


def _names(value: object) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(v).strip() for v in values if str(v).strip())


def _launcher(value: object) -> str:
    if value not in LAUNCHERS:
        raise ValueError(f"{value!r} is not a launcher; choose among {', '.join(LAUNCHERS)}")
    return str(value)


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{value!r} is not true or false")
    return text in ("true", "1", "yes")


def _seconds(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if not number > 0:
        raise ValueError(f"{number} is not more than 0")
    return number


#: Each setting: its parser, and a good value (shown with an error).
_PARSERS: dict[str, tuple[Callable[[object], Any], str]] = {
    "faults": (_faults, f"{KILL},powerloss"),
    "variants": (_names, "correct"),
    "sample": (_whole(1), "20"),
    "seed": (_whole(0), "7"),
    "shard": (parse_shard, "2/4"),
    "jobs": (_whole(1), "4"),
    "timeout": (_seconds, "60"),
    "max_rounds": (_whole(1), "5"),
    "launcher": (_launcher, DEFAULT_LAUNCHER),
    "kill_each_point": (_flag, "true"),
    "examples": (_whole(1), "200"),
    "budget": (_seconds, "600"),
    "results": (str, "reports/results.jsonl"),
    "report": (str, "reports/index.html"),
    "artifacts": (str, "reports/artifacts"),
}


def _as_setting(name: str, value: object) -> str:
    """How a setting is written in a settings file: ``sample = 20``."""
    return f"{name} = {value!r}" if not str(value).isdigit() else f"{name} = {value}"


def with_settings(
    options: Options,
    settings: Mapping[str, Any],
    source: str,
    spell: Callable[[str, object], str] = _as_setting,
) -> Options:
    """``options`` with ``settings`` applied (keys with ``-`` or ``_``); UsageError naming
    ``source`` and the fix for an unknown key or a bad value.

    Args:
        spell: how a setting and a value are written where they came from (a settings
            file's ``sample = 20``, a command line's ``--sample 20``).
    """
    changes = {}
    where = f"{source}: " if source else ""
    for key, value in settings.items():
        name = key.replace("-", "_")
        if name not in _PARSERS:
            raise UsageError(
                f"{where}unknown crashkit setting {key!r}; known settings: {', '.join(_PARSERS)}"
            )
        parse, example = _PARSERS[name]
        try:
            changes[name] = parse(value)
        except (ValueError, UsageError) as error:
            text = str(error)
            fix = "" if "e.g." in text else f"; e.g. {spell(key, example)}"
            raise UsageError(f"{where}{spell(key, value)}: {text}{fix}") from None
    return dataclasses.replace(options, **changes)


# -- where a project keeps its settings ----------------------------------------------

#: The pytest configuration keys crashkit reads, by setting.
INI_KEYS = {
    "crashkit_results": "results",
    "crashkit_report": "report",
    "crashkit_faults": "faults",
    "crashkit_sample": "sample",
    "crashkit_seed": "seed",
    "crashkit_shard": "shard",
    "crashkit_timeout": "timeout",
    "crashkit_max_rounds": "max_rounds",
    "crashkit_launcher": "launcher",
    "crashkit_artifacts": "artifacts",
    "crashkit_examples": "examples",
    "crashkit_budget": "budget",
}


def project_settings(start: Path) -> tuple[dict[str, Any], str]:
    """The ``[tool.crashkit]`` table of the nearest ``pyproject.toml`` at or above
    ``start``, and that file's path ("" when there is none)."""
    for folder in (start.resolve(), *start.resolve().parents):
        path = folder / "pyproject.toml"
        if path.is_file():
            table = _toml(path).get("tool", {}).get("crashkit")
            if table is not None:
                if not isinstance(table, dict):
                    raise UsageError(f"{path}: [tool.crashkit] must be a table")
                return table, str(path)
    return {}, ""


def pytest_ini_settings(start: Path) -> tuple[dict[str, Any], str]:
    """The ``crashkit_*`` keys of the pytest configuration pytest would use from ``start``
    (the first of pytest.ini, .pytest.ini, pyproject.toml, tox.ini, setup.cfg that holds a
    pytest section, in this folder or the nearest above), and that file's path."""
    for folder in (start.resolve(), *start.resolve().parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            section = _pytest_section(folder / name)
            if section is not None:
                found = {INI_KEYS[k]: v for k, v in section.items() if k in INI_KEYS}
                return found, str(folder / name)
    return {}, ""


def pytest_pythonpath(start: Path) -> list[Path]:
    """The folders the pytest configuration's ``pythonpath`` setting puts on ``sys.path``
    (relative to its file), so that ``crashkit run`` and ``crashkit replay`` import the
    project's modules as ``pytest`` does."""
    for folder in (start.resolve(), *start.resolve().parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            section = _pytest_section(folder / name)
            if section is not None:
                value = section.get("pythonpath") or []
                entries = value.split() if isinstance(value, str) else [str(v) for v in value]
                return [(folder / entry).resolve() for entry in entries]
    return []


def _pytest_section(path: Path) -> Mapping[str, Any] | None:
    if not path.is_file():
        return None
    if path.suffix == ".toml":
        section = _toml(path).get("tool", {}).get("pytest", {}).get("ini_options")
        return section if isinstance(section, dict) else None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise UsageError(f"{path}: not a readable configuration file ({error})") from None
    for name in ("pytest", "tool:pytest") if path.name != "pytest.ini" else ("pytest",):
        if parser.has_section(name):
            return dict(parser[name])
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: not readable TOML ({error}); fix or remove it") from None


def load_settings(
    start: Path, command_line: Mapping[str, Any], spell: Callable[[str, object], str] | None = None
) -> Options:
    """The options for a sweep started in ``start``: defaults, ``[tool.crashkit]``, the
    pytest ini keys, then ``command_line`` (None values: not given), each checked.

    Args:
        spell: how the command line writes a setting and its value, for errors.
    """
    options = project_options(start)
    given = {k: v for k, v in command_line.items() if v is not None}
    return with_settings(options, given, "", spell or _as_flag)


def project_options(start: Path) -> Options:
    """The options a project's files set: ``[tool.crashkit]``, then the pytest ini keys."""
    table, path = project_settings(start)
    options = with_settings(Options(), table, f"{path} [tool.crashkit]")
    ini, path = pytest_ini_settings(start)
    return with_settings(options, ini, path, as_ini_key)


def as_ini_key(name: str, value: object) -> str:
    """How the pytest configuration writes a setting: ``crashkit_sample = 20``."""
    return f"crashkit_{name} = {value}"


def _as_flag(name: str, value: object) -> str:
    """How ``crashkit run`` writes a setting: ``--sample 20``."""
    return f"--{name.replace('_', '-')} {value}"
