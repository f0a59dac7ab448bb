"""Both sides changed the same paragraph: local wins the overlapping hunk, a conflict is
recorded, and the merged note is pushed back (the seed's handleConflict path)."""

from kasten_world import KastenWorld, kasten_scenario

BASE = "# Meeting\n\nagenda: budget\n\nnotes: none yet\n"

conflict = kasten_scenario(
    "conflict",
    KastenWorld(
        notes={"meeting.md": BASE},
        local_edits={"meeting.md": BASE.replace("none yet", "approved (local)")},
        remote_edits={"meeting.md": BASE.replace("none yet", "postponed (remote)")},
        frontmatter={"meeting.md": "---\nattendees: 3\n---\n"},
    ),
    paths=("merge",),
)
