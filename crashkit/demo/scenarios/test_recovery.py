"""An earlier run left an unfinished push in the journal (the remote failed half-way);
this sync must finish it from wherever it stopped."""

from kasten_world import KastenWorld, kasten_scenario

recovery = kasten_scenario(
    "recovery",
    KastenWorld(
        notes={"draft.md": "# Draft\n\nfirst version\n"},
        stuck_pushes=["draft.md"],
    ),
    paths=(),
)
