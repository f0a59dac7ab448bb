"""kasten over generated worlds: hypothesis draws the world, crashkit crashes it at every
point, and a finding is shrunk to the smallest world and point that still fail.

Not a ``test_*.py`` file: the default sweep (``crashkit run``) stays the hand-written
scenarios; run this one by name, with a budget of worlds::

    # the nightly budget
    crashkit run crashkit/demo/scenarios/kasten_generated.py --fault all --examples 200
    # a quick look
    crashkit run crashkit/demo/scenarios/kasten_generated.py -V correct --examples 5 \
        --sample 8 --budget 60
    # one pytest item per variant and fault
    pytest crashkit/demo/scenarios/kasten_generated.py --crashkit-examples 5

Every seeded variant is expected to be found, the three bugs of shape (long notes,
long paragraphs) included, which no hand-written world reaches.
"""

from __future__ import annotations

from kasten_strategies import kasten_worlds
from kasten_world import ALL_VARIANTS, CAUGHT_BY, KastenWorld, kasten_scenario

import crashkit

generated = crashkit.Generated(
    name="generated",
    world=kasten_worlds(),
    build=lambda world: kasten_scenario("generated", world, paths=()),
    variants=ALL_VARIANTS,
    # Each known bug is searched under the fault meant to catch it: a kill for all but
    # the five only another fault sees.
    expect_findings={
        name: CAUGHT_BY.get(name, ("kill",)) for name in ALL_VARIANTS if name != "correct"
    },
    decode=KastenWorld.from_json,
    preload=("crashkit.demo.kasten", "notion_client", "respx", "merge3", "hypothesis"),
)
