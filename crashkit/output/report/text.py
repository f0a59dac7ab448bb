"""Text for people: program output made safe to show, operations and point ranges named.

Everything a program under test printed passes through :func:`clean` before it
reaches the page, so a control byte or a lone surrogate cannot garble it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "clean",
    "clean_text",
    "describe",
    "entity_text",
    "error_summary",
    "point_ranges",
    "where",
]

#: Longest text kept per output or message; the rest is in the results file.
TEXT_LIMIT = 64_000
#: Most not-run ranges spelled out per variant in the coverage table.
RANGES_LIMIT = 24

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """Program text made safe to show: control bytes visible, lone surrogates replaced, clipped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(_control_picture, text)
    text = _SURROGATE.sub("\ufffd", text)
    if len(text) > limit:
        rest = len(text) - limit
        text = f"{text[:limit]}\n… ({rest} more characters in the results file)"
    return text


def _control_picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)  # ␀ ␁ ... ␡


def clean(value: Any) -> Any:
    """``value`` (records, as read) with every string in it made safe by :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def describe(op: dict[str, Any] | list[Any], point: int, nested: int | None = None) -> str:
    """``p07 fs.write notes.md`` (``p07/r03`` for a crash during recovery)."""
    kind, target = (op[0], op[1]) if isinstance(op, list) else (op.get("kind"), op.get("target"))
    label = f"p{point:02d}" + (f"/r{nested:02d}" if nested is not None else "")
    return f"{label} {kind} {target}"


def where(op: dict[str, Any]) -> str:
    """The operation's caller and source location, ``write_atomic, kasten/files.py:24``."""
    function, file, line = op.get("function", "?"), op.get("file", "?"), op.get("line", 0)
    return f"{function}, {file}:{line}" if file not in (None, "?") else str(function)


def entity_text(entity: Any) -> str:
    """An audited entity for people: ``path=notes.md page=1a2b`` (empty parts left out)."""
    if isinstance(entity, dict):
        parts = [f"{k}={v}" for k, v in entity.items() if v not in (None, "")]
        return " ".join(parts) or "(none)"
    return str(entity) if entity not in (None, "") else "(none)"


def error_summary(text: str) -> str:
    """The first line of an error and, for a traceback, its last line (the exception)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "error"
    first = lines[0].removesuffix("Traceback (most recent call last):").strip()
    return first if len(lines) == 1 else f"{first} \u2026 {lines[-1].strip()}"


def point_ranges(points: list[int], limit: int = RANGES_LIMIT) -> str:
    """``p04-p09, p12`` (en dashes) for sorted points, at most ``limit`` ranges spelled out."""
    spans: list[list[int]] = []
    for k in points:
        if spans and k == spans[-1][1] + 1:
            spans[-1][1] = k
        else:
            spans.append([k, k])
    words = [f"p{a:02d}" if a == b else f"p{a:02d}\u2013p{b:02d}" for a, b in spans[:limit]]
    if len(spans) > limit:
        words.append(f"and {len(spans) - limit} more ranges")
    return ", ".join(words)
