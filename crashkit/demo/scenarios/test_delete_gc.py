"""A local file was removed: the entity is soft-deleted, its page archived, and garbage
collection (retention 0) purges the entity in the same cycle."""

from kasten_world import KastenWorld, kasten_scenario

delete_gc = kasten_scenario(
    "delete_gc",
    KastenWorld(
        notes={"old.md": "# Old\n\nobsolete\n", "keep.md": "# Keep\n\nstays\n"},
        local_edits={"old.md": None},
    ),
    paths=("gc",),
)
