"""A clean push: only the local file changed; the sync replaces the page's blocks."""

from kasten_world import KastenWorld, kasten_scenario

push = kasten_scenario(
    "push",
    KastenWorld(
        notes={"todo.md": "- [ ] bread\n- [ ] milk\n"},
        local_edits={"todo.md": "- [x] bread\n- [ ] milk\n- [ ] eggs\n"},
    ),
    paths=("push",),
)
