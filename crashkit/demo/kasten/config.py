"""Where kasten keeps its state, and its configuration.

``DIR/.kasten/config.json`` is written by ``kasten init``. Environment
variables override it, and an explicit ``bugs=`` argument overrides both:

==========================  ==================  =================================
environment                 config key          meaning
==========================  ==================  =================================
``KASTEN_REMOTE``           ``remote``          base URL of the Notion API
``KASTEN_TOKEN``            ``token``           integration token (bearer)
``KASTEN_BUGS``             ``bugs``            seeded bug variants, comma-separated
``KASTEN_GC_RETENTION``     ``gc_retention``    seconds a soft-deleted entity is kept
``KASTEN_RETRIES``          ``retries``         SDK retries of 429 and GET/DELETE 5xx
==========================  ==================  =================================
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, NotInitializedError
from .files import fsync_folder, write_atomic
from .variants import parse_variants

__all__ = ["Config", "config_path", "load_config", "state_dir", "write_config"]

STATE_FOLDER = ".kasten"
DEFAULT_GC_RETENTION = 7 * 24 * 3600.0
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class Config:
    """The settings one engine runs with."""

    remote: str  #: base URL, e.g. https://api.notion.com (the SDK appends /v1/)
    token: str
    parent: str | None  #: a page new pages would go under; kept for the user's reference
    bugs: frozenset[str]
    gc_retention: float  #: seconds
    retries: int


def state_dir(folder: str | os.PathLike[str]) -> Path:
    """The folder holding kasten's config and database for a synced ``folder``."""
    return Path(folder) / STATE_FOLDER


def config_path(folder: str | os.PathLike[str]) -> Path:
    return state_dir(folder) / "config.json"


def write_config(
    folder: str | os.PathLike[str], *, remote: str, token: str, parent: str | None = None
) -> Path:
    """Validate and store the remote settings of ``folder``; returns the config file.

    Raises:
        ConfigError: the URL or the token is malformed.
        NotInitializedError: ``folder`` does not exist.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotInitializedError(
            f"folder {str(root)!r} does not exist", "create it first, or pass the right --dir"
        )
    data = {"remote": _check_remote(remote, "--remote"), "token": _check_token(token, "--token")}
    if parent:
        data["parent"] = parent
    # Owner-only: the folder holds the token. A new one is made durable in its parent.
    if not state_dir(root).is_dir():
        state_dir(root).mkdir(mode=0o700)
        fsync_folder(root)
    path = config_path(root)
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def load_config(
    folder: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    bugs: Iterable[str] | None = None,
) -> Config:
    """Read ``folder``'s config, apply environment overrides, and validate everything.

    Raises:
        NotInitializedError: there is no ``.kasten/config.json``.
        ConfigError: a value is missing or malformed; the message names its source.
    """
    env = os.environ if env is None else env
    data = _read_file(folder)
    remote, remote_source = _pick(data, env, "remote", "KASTEN_REMOTE")
    token, token_source = _pick(data, env, "token", "KASTEN_TOKEN")
    return Config(
        remote=_check_remote(remote, remote_source),
        token=_check_token(token, token_source),
        parent=data.get("parent"),
        bugs=_bugs(data, env, bugs),
        gc_retention=_number(
            data, env, "gc_retention", "KASTEN_GC_RETENTION", DEFAULT_GC_RETENTION
        ),
        retries=int(_number(data, env, "retries", "KASTEN_RETRIES", DEFAULT_RETRIES)),
    )


def _read_file(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = config_path(folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotInitializedError(
            f"{str(Path(folder))!r} is not a kasten folder (no {STATE_FOLDER}/config.json)",
            f"run: crashkit-kasten --dir {folder} init --remote URL --token TOKEN",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{path} is not valid JSON: {error}", "fix the file or run init again"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object", "run init again")
    return data


def _pick(data: Mapping[str, Any], env: Mapping[str, str], key: str, var: str) -> tuple[Any, str]:
    if env.get(var):
        return env[var], f"${var}"
    return data.get(key), f"config key {key!r}"


def _bugs(
    data: Mapping[str, Any], env: Mapping[str, str], bugs: Iterable[str] | None
) -> frozenset[str]:
    if bugs is not None:
        return parse_variants(bugs, source="the bugs= argument")
    if "KASTEN_BUGS" in env:
        return parse_variants(env["KASTEN_BUGS"], source="$KASTEN_BUGS")
    value = data.get("bugs", [])
    if not isinstance(value, str | list):
        raise ConfigError(f"config key 'bugs' must be a list of names, not {value!r}")
    return parse_variants(value, source="config key 'bugs'")


def _number(
    data: Mapping[str, Any], env: Mapping[str, str], key: str, var: str, default: float
) -> float:
    raw, source = _pick(data, env, key, var)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{source} must be a number, not {raw!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{source} must be zero or more, not {raw!r}")
    return value


def _check_remote(value: Any, source: str) -> str:
    if not value:
        raise ConfigError(
            f"no remote URL is set ({source} is empty)", "pass --remote URL or set KASTEN_REMOTE"
        )
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{source} must be an http(s) URL such as https://api.notion.com, not {value!r}",
            "pass the API's base URL without /v1",
        )
    # The SDK appends /v1/ itself; accept a URL copied with it.
    return str(value).rstrip("/").removesuffix("/v1")


def _check_token(value: Any, source: str) -> str:
    if not value or not str(value).strip():
        raise ConfigError(
            f"no token is set ({source} is empty)", "pass --token TOKEN or set KASTEN_TOKEN"
        )
    return str(value).strip()
