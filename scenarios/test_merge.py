"""Both sides changed different paragraphs: a clean three-way merge, pushed back."""

from kasten_world import KastenWorld, kasten_scenario

BASE = "# Plan\n\nalpha\n\nbeta\n\ngamma\n"

merge = kasten_scenario(
    "merge",
    KastenWorld(
        notes={"plan.md": BASE},
        local_edits={"plan.md": BASE.replace("alpha", "alpha (local)")},
        remote_edits={"plan.md": BASE.replace("gamma", "gamma (remote)")},
    ),
    catches=[
        "conflict-no-wal",
        "wal-delete-before-push",
        "inplace-write",
        "recovery-ignores-wal",
        "push-not-idempotent",
        "rename-without-fsync",
        "retry-duplicates",
        "error-drops-wal",
        "recovery-deletes-first",
        "inplace-pwrite",
    ],
)
