"""Plain data, shared by every layer and both sides of the process boundary: an
operation (:mod:`.operation`), what a point comes to and how it is identified and
judged (:mod:`.outcome`), the contract between parent and child (:mod:`.process`,
:mod:`.wire`, :mod:`.worlds`), and seeded sampling (:mod:`.sampling`).

Layer: the bottom one. It imports nothing of crashkit but :mod:`crashkit.errors`.
"""
