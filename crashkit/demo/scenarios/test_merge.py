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
    paths=("merge",),
)
