"""kasten: a small markdown folder <-> Notion sync engine, crashkit's reference target."""

# The public names; the implementation lives in one module per concept:
# engine (the cycle), operations (journaled write paths), wal, db, files,
# remote, merge, policy, config, variants, errors.
from .config import Config
from .engine import Engine, SyncReport, init, link
from .errors import (
    ConfigError,
    KastenError,
    LinkError,
    NoteError,
    NotInitializedError,
    RemoteError,
    SchemaError,
    StateError,
)
from .variants import SHAPE_VARIANTS, VARIANTS

__all__ = [
    "SHAPE_VARIANTS",
    "VARIANTS",
    "Config",
    "ConfigError",
    "Engine",
    "KastenError",
    "LinkError",
    "NotInitializedError",
    "NoteError",
    "RemoteError",
    "SchemaError",
    "StateError",
    "SyncReport",
    "init",
    "link",
]
