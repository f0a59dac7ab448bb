"""One cycle over many notes, mixing every path: pull, push, merge, conflict, delete and
GC, plus an unfinished entry from an earlier run."""

from kasten_world import KastenWorld, kasten_scenario

BASE = "# Shared\n\none\n\ntwo\n\nthree\n"

mixed = kasten_scenario(
    "mixed",
    KastenWorld(
        notes={
            "a-pull.md": "pull me\n",
            "b-push.md": "push me\n",
            "c-merge.md": BASE,
            "d-conflict.md": BASE,
            "e-delete.md": "delete me\n",
            "f-stuck.md": "stuck\n",
            "g-same.md": "unchanged\n",
        },
        local_edits={
            "b-push.md": "push me\n\nlocal addition\n",
            "c-merge.md": BASE.replace("one", "one (local)"),
            "d-conflict.md": BASE.replace("two", "two (local)"),
            "e-delete.md": None,
        },
        remote_edits={
            "a-pull.md": "pull me\n\nremote addition\n",
            "c-merge.md": BASE.replace("three", "three (remote)"),
            "d-conflict.md": BASE.replace("two", "two (remote)"),
        },
        stuck_pushes=["f-stuck.md"],
    ),
    paths=("pull", "push", "merge", "gc"),
)
