"""A clean pull: only the remote changed; the sync writes the file."""

from kasten_world import KastenWorld, kasten_scenario

pull = kasten_scenario(
    "pull",
    KastenWorld(
        notes={"notes.md": "# Notes\n\nfirst line\n"},
        remote_edits={"notes.md": "# Notes\n\nfirst line\n\nadded in Notion\n"},
        frontmatter={"notes.md": "---\ntags: [crash]\n---\n"},
    ),
    paths=("pull",),
)
