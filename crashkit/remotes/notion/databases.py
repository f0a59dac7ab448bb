"""Databases and data sources as Notion-Version ``2025-09-03`` shapes them.

Since that version a database is a container of data sources, and a data source holds the
schema (``properties``) and the rows, which are pages whose parent is
``{"type": "data_source_id", "data_source_id": ..., "database_id": ...}``
(https://developers.notion.com/docs/upgrade-guide-2025-09-03). This module holds what the
routes need that is particular to them: property schemas, page property values, the
database and data source objects, and the filter and sorts of a query.

Property types served: those a sync engine keeps data in (:data:`PROPERTY_TYPES`);
``created_time`` and ``last_edited_time`` are read-only and follow the page. Others
(relations, rollups, formulas, people, files, ...) are refused by name.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from crashkit.remotes.notion.store import ID_NAMESPACE, Node, format_time
from crashkit.remotes.notion.wire import ApiError, invalid, plain, rich_text, stamps

__all__ = [
    "DATABASE",
    "DATA_SOURCE",
    "PROPERTY_TYPES",
    "default_values",
    "parse_schema",
    "parse_values",
    "render_data_source",
    "render_database",
    "render_values",
    "select_rows",
]

#: Node types: a database is the ``child_database`` block in its parent page; a data
#: source is a child of its database, never a block.
DATABASE = "child_database"
DATA_SOURCE = "data_source"

#: Property types and their value when a page does not set one.
PROPERTY_TYPES: dict[str, Any] = {
    "title": [],
    "rich_text": [],
    "number": None,
    "checkbox": False,
    "select": None,
    "multi_select": [],
    "date": None,
    "url": None,
    "email": None,
    "phone_number": None,
    "created_time": None,
    "last_edited_time": None,
}

_READ_ONLY = ("created_time", "last_edited_time")
_TEXT = ("title", "rich_text", "url", "email", "phone_number")
_COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red")

#: The conditions of a property filter, by the property types they apply to
#: (https://developers.notion.com/reference/filter-data-source-entries).
_TEXT_CONDITIONS = (
    "equals",
    "does_not_equal",
    "contains",
    "does_not_contain",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
)
_CONDITIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(_TEXT, _TEXT_CONDITIONS),
    "number": (
        "equals",
        "does_not_equal",
        "greater_than",
        "less_than",
        "greater_than_or_equal_to",
        "less_than_or_equal_to",
        "is_empty",
        "is_not_empty",
    ),
    "checkbox": ("equals", "does_not_equal"),
    "select": ("equals", "does_not_equal", "is_empty", "is_not_empty"),
    "multi_select": ("contains", "does_not_contain", "is_empty", "is_not_empty"),
    **dict.fromkeys(
        ("date", *_READ_ONLY),
        ("equals", "before", "after", "on_or_before", "on_or_after", "is_empty", "is_not_empty"),
    ),
}


# -- schemas -----------------------------------------------------------------------------------


def property_id(name: str) -> str:
    """A property's id: ``title`` for the title, else a short opaque id, stable per name."""
    return uuid.uuid5(ID_NAMESPACE, f"property:{name}").hex[:8]


def parse_schema(properties: object, where: str) -> dict[str, dict[str, Any]]:
    """A data source's schema from the ``properties`` of a request, as Notion returns it.

    Raises:
        ApiError: 400 validation_error: not exactly one title, or an unserved type.
    """
    if properties is None:
        properties = {"Name": {"title": {}}}
    if not isinstance(properties, dict):
        raise invalid(where, "should be an object")
    schema = {name: _config(name, value, f"{where}.{name}") for name, value in properties.items()}
    titles = [name for name, config in schema.items() if config["type"] == "title"]
    if len(titles) != 1:
        raise invalid(where, f"should have exactly one title property, instead had {len(titles)}")
    return schema


def _config(name: str, value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, "should be an object")
    keys = [key for key in value if key not in ("type", "name", "description")]
    kind = value.get("type", keys[0] if len(keys) == 1 else None)
    if kind not in PROPERTY_TYPES:
        served = ", ".join(PROPERTY_TYPES)
        raise invalid(
            where,
            f"should be a property of a type this fake serves ({served}), "
            f"instead was `{json.dumps(kind)}`",
        )
    config = value.get(kind) or {}
    if not isinstance(config, dict):
        raise invalid(f"{where}.{kind}", "should be an object")
    if kind == "number":
        config = {"format": config.get("format", "number")}
    elif kind in ("select", "multi_select"):
        options = config.get("options", [])
        if not isinstance(options, list):
            raise invalid(f"{where}.{kind}.options", "should be an array")
        config = {
            "options": [
                _option(o, f"{where}.{kind}.options[{i}]", i) for i, o in enumerate(options)
            ]
        }
    else:
        config = {}
    pid = "title" if kind == "title" else property_id(name)
    return {"id": pid, "name": name, "description": None, "type": kind, kind: config}


def _option(raw: object, where: str, index: int) -> dict[str, Any]:
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name or "," in name:
        raise invalid(
            f"{where}.name", f"should be a name without commas, instead was `{json.dumps(name)}`"
        )
    color = raw.get("color", _COLORS[index % len(_COLORS)]) if isinstance(raw, dict) else None
    return {"id": property_id(f"option:{name}"), "name": name, "color": color, "description": None}


def title_name(schema: Mapping[str, Mapping[str, Any]]) -> str:
    """The name of the schema's title property."""
    return next(name for name, config in schema.items() if config["type"] == "title")


# -- values ------------------------------------------------------------------------------------


def default_values(schema: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The property values of a page that sets none."""
    return {
        name: _value(config, _copy(PROPERTY_TYPES[config["type"]]))
        for name, config in schema.items()
    }


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _value(config: Mapping[str, Any], value: Any) -> dict[str, Any]:
    return {"id": config["id"], "type": config["type"], config["type"]: value}


def parse_values(
    schema: dict[str, dict[str, Any]], properties: object, where: str
) -> dict[str, dict[str, Any]]:
    """The values a request sets, by property name, as Notion returns them.

    A property is named by its name or its id. A select option new to the schema is added
    to ``schema`` (as Notion does for an integration that may edit the data source).

    Raises:
        ApiError: 400 validation_error, e.g. ``Tags is not a property that exists.``
    """
    if not isinstance(properties, dict):
        raise invalid(where, "should be an object")
    by_id = {config["id"]: name for name, config in schema.items()}
    values = {}
    for key, raw in properties.items():
        name = key if key in schema else by_id.get(key)
        if name is None:
            raise ApiError(400, "validation_error", f"{key} is not a property that exists.")
        config = schema[name]
        values[name] = _value(config, _parse_value(config, raw, f"{where}.{key}"))
    return values


def _parse_value(config: dict[str, Any], raw: object, where: str) -> Any:
    kind = config["type"]
    if kind in _READ_ONLY:
        raise invalid(where, f"should be not present (a {kind} property is read-only)")
    if isinstance(raw, dict) and kind in raw:
        raw = raw[kind]
    elif not (kind == "title" and isinstance(raw, list)):
        raise invalid(f"{where}.{kind}", "should be defined, instead was `undefined`")
    where = f"{where}.{kind}"
    if kind in ("title", "rich_text"):
        return rich_text(raw, where)
    if kind == "select":
        return None if raw is None else _choose(config["select"], raw, where)
    if kind == "multi_select":
        if not isinstance(raw, list):
            raise invalid(where, "should be an array")
        return [_choose(config[kind], item, f"{where}[{i}]") for i, item in enumerate(raw)]
    if kind == "date":
        return None if raw is None else _date_value(raw, where)
    return _scalar(kind, raw, where)


def _scalar(kind: str, raw: object, where: str) -> Any:
    expected = {"number": (int, float), "checkbox": (bool,)}.get(kind, (str,))
    wrong_bool = kind == "number" and isinstance(raw, bool)
    if (raw is None and kind != "checkbox") or (isinstance(raw, expected) and not wrong_bool):
        return raw
    what = {"number": "a number", "checkbox": "a boolean"}.get(kind, "a string")
    suffix = "" if kind == "checkbox" else " or `null`"
    raise invalid(where, f"should be {what}{suffix}, instead was `{json.dumps(raw)}`")


def _choose(config: dict[str, Any], raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not ({"name", "id"} & raw.keys()):
        raise invalid(where, "should be an object with a `name` or an `id`")
    options: list[dict[str, Any]] = config["options"]
    for option in options:
        if option["name"] == raw.get("name") or option["id"] == raw.get("id"):
            return {key: option[key] for key in ("id", "name", "color")}
    if "name" not in raw:
        raise invalid(f"{where}.id", f"should be an option's id, instead was `{raw['id']}`")
    option = _option(raw, where, len(options))
    options.append(option)
    return {key: option[key] for key in ("id", "name", "color")}


def _date_value(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(where, "should be an object or `null`")
    start = raw.get("start")
    _instant(start, f"{where}.start")
    end = raw.get("end")
    if end is not None:
        _instant(end, f"{where}.end")
    return {"start": start, "end": end, "time_zone": raw.get("time_zone")}


def _instant(raw: object, where: str) -> datetime:
    """An ISO 8601 date or date-time as an aware datetime (a date is its midnight UTC)."""
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(
            where, f"should be an ISO 8601 date, instead was `{json.dumps(raw)}`"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render_values(node: Node) -> dict[str, dict[str, Any]]:
    """A data source page's property values, with its read-only times filled in."""
    values: dict[str, dict[str, Any]] = dict(node.payload["properties"])
    for name, value in values.items():
        if value["type"] in _READ_ONLY:
            at = node.created if value["type"] == "created_time" else node.edited
            values[name] = {**value, value["type"]: format_time(at)}
    return values


# -- objects -----------------------------------------------------------------------------------


def _url(node: Node) -> str:
    return f"https://www.notion.so/{node.id.replace('-', '')}"


def render_database(node: Node, parent: dict[str, Any], sources: list[Node]) -> dict[str, Any]:
    """The database object (``data_sources`` lists its data sources' ids and names)."""
    return {
        "object": "database",
        "id": node.id,
        "title": node.payload["title"],
        "description": node.payload["description"],
        "parent": parent,
        "is_inline": node.payload["is_inline"],
        "in_trash": node.archived,
        "archived": node.archived,
        "is_locked": False,
        **stamps(node),
        "data_sources": [{"id": s.id, "name": plain(s.payload["title"])} for s in sources],
        "icon": node.payload.get("icon"),
        "cover": node.payload.get("cover"),
        "url": _url(node),
        "public_url": None,
    }


def render_data_source(
    node: Node, database: Node, database_parent: dict[str, Any]
) -> dict[str, Any]:
    """The data source object, with its schema (``properties``)."""
    return {
        "object": "data_source",
        "id": node.id,
        **stamps(node),
        "title": node.payload["title"],
        "description": node.payload["description"],
        "properties": node.payload["properties"],
        "parent": {"type": "database_id", "database_id": database.id},
        "database_parent": database_parent,
        "is_inline": database.payload["is_inline"],
        "archived": node.archived,
        "in_trash": node.archived,
        "icon": database.payload.get("icon"),
        "cover": database.payload.get("cover"),
        "url": _url(node),
        "public_url": None,
    }


# -- queries -----------------------------------------------------------------------------------

#: A rendered page (its ``properties`` and times) to the value a filter or sort looks at.
Getter = Callable[[Mapping[str, Any]], Any]


def select_rows(
    schema: Mapping[str, Mapping[str, Any]], rows: list[dict[str, Any]], body: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rendered pages ``body``'s ``filter`` keeps, in the order of its ``sorts``.

    Without sorts the order is creation order (ties keep it too).

    Raises:
        ApiError: 400 validation_error for a malformed filter or sort.
    """
    if body.get("filter") is not None:
        keep = _filter(schema, body["filter"], "body.filter", 0)
        rows = [row for row in rows if keep(row)]
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list):
        raise invalid("body.sorts", "should be an array")
    keys = [_sort(schema, sort, f"body.sorts[{i}]") for i, sort in enumerate(sorts)]

    def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
        return _compare(keys, a, b)

    return sorted(rows, key=functools.cmp_to_key(compare))


def _compare(keys: list[tuple[Getter, int]], a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    for get, sign in keys:
        left, right = get(a), get(b)
        if left == right:
            continue
        if left is None or right is None:  # empty values come last in either direction
            return 1 if left is None else -1
        return sign * (1 if left > right else -1)
    return 0


def _sort(schema: Mapping[str, Mapping[str, Any]], sort: object, where: str) -> tuple[Getter, int]:
    if not isinstance(sort, dict):
        raise invalid(where, "should be an object")
    direction = sort.get("direction", "ascending")
    if direction not in ("ascending", "descending"):
        raise invalid(
            f"{where}.direction",
            f"should be `ascending` or `descending`, instead was `{json.dumps(direction)}`",
        )
    sign = 1 if direction == "ascending" else -1
    if "timestamp" in sort:
        get = _timestamp(sort["timestamp"], f"{where}.timestamp")
        return (lambda row: _moment(get(row))), sign
    if "property" not in sort:
        raise invalid(where, "should have `property` or `timestamp`")
    name, kind = _property(schema, sort["property"], f"{where}.property")
    return _sort_key(schema[name], name, kind), sign


def _sort_key(config: Mapping[str, Any], name: str, kind: str) -> Getter:
    """The value a sort compares: None for an empty value."""
    raw = _getter(name, kind)
    if kind in ("select", "multi_select"):
        order = [option["id"] for option in config[kind]["options"]]

        def option(row: Mapping[str, Any]) -> Any:  # sorted by the schema's option order
            value = raw(row)
            first = (value or [None])[0] if kind == "multi_select" else value
            return None if first is None else order.index(first["id"])

        return option
    if kind in ("date", *_READ_ONLY):
        return lambda row: _moment(raw(row))
    if kind in ("title", "rich_text"):
        return lambda row: plain(raw(row)) or None
    return raw


def _getter(name: str, kind: str) -> Getter:
    return lambda row: row["properties"][name][kind]


def _timestamp(raw: object, where: str) -> Getter:
    if raw not in _READ_ONLY:
        raise invalid(
            where,
            f"should be `created_time` or `last_edited_time`, instead was `{json.dumps(raw)}`",
        )
    return lambda row: row[raw]


def _property(schema: Mapping[str, Mapping[str, Any]], raw: object, where: str) -> tuple[str, str]:
    for name, config in schema.items():
        if raw in (name, config["id"]):
            return name, str(config["type"])
    raise ApiError(400, "validation_error", f"Could not find property with name or id: {raw}")


def _moment(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("start")
    return None if value is None else _instant(value, "value")


def _filter(
    schema: Mapping[str, Mapping[str, Any]], raw: object, where: str, depth: int
) -> Callable[[Mapping[str, Any]], bool]:
    if not isinstance(raw, dict):
        raise invalid(where, "should be an object")
    for joint, combine in (("and", all), ("or", any)):
        if joint in raw:
            parts = raw[joint]
            if not isinstance(parts, list) or depth >= 2:
                raise invalid(f"{where}.{joint}", "should be an array, nested two levels at most")
            tests = [
                _filter(schema, part, f"{where}.{joint}[{i}]", depth + 1)
                for i, part in enumerate(parts)
            ]
            return lambda row: combine(test(row) for test in tests)
    if "timestamp" in raw:
        kind = raw["timestamp"]
        get = _timestamp(kind, f"{where}.timestamp")
        return _condition(kind, get, raw.get(kind), f"{where}.{kind}")
    if "property" not in raw:
        raise invalid(where, "should have `property`, `timestamp`, `and` or `or`")
    name, kind = _property(schema, raw.get("property"), f"{where}.property")
    # A title is filtered with text conditions under either key.
    key = (
        "title" if kind == "title" and "title" in raw else "rich_text" if kind == "title" else kind
    )
    get = _getter(name, kind)
    if kind in ("title", "rich_text"):
        return _condition(kind, lambda row: plain(get(row)), raw.get(key), f"{where}.{key}")
    return _condition(kind, get, raw.get(key), f"{where}.{key}")


def _condition(
    kind: str, get: Getter, raw: object, where: str
) -> Callable[[Mapping[str, Any]], bool]:
    known = _CONDITIONS[kind]
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in known:
        raise invalid(
            where,
            f"should be an object with one of {', '.join(known)}, instead was `{json.dumps(raw)}`",
        )
    name, operand = next(iter(raw.items()))
    test = _test(kind, name, operand, where)
    return lambda row: test(get(row))


def _test(kind: str, name: str, operand: Any, where: str) -> Callable[[Any], bool]:
    if name in ("is_empty", "is_not_empty"):
        return lambda value: (value in (None, "", [])) == (name == "is_empty")
    if kind in ("date", *_READ_ONLY):
        return _date_test(name, operand, f"{where}.{name}")
    if kind == "select":
        return lambda value: ((value or {}).get("name") == operand) == (name == "equals")
    if kind == "multi_select":
        return lambda value: any(o["name"] == operand for o in value) == (name == "contains")
    if kind in ("number", "checkbox"):
        if operand is None:  # only a value can be compared with
            raise invalid(f"{where}.{name}", f"should be a {kind} value, instead was `null`")
        _scalar(kind, operand, f"{where}.{name}")
        return _compare_test(name, operand)
    return _text_test(name, operand if isinstance(operand, str) else str(operand))


def _compare_test(name: str, operand: Any) -> Callable[[Any], bool]:
    tests: dict[str, Callable[[Any], bool]] = {
        "equals": lambda v: v == operand,
        "does_not_equal": lambda v: v != operand,
        "greater_than": lambda v: v is not None and v > operand,
        "less_than": lambda v: v is not None and v < operand,
        "greater_than_or_equal_to": lambda v: v is not None and v >= operand,
        "less_than_or_equal_to": lambda v: v is not None and v <= operand,
    }
    return tests[name]


def _text_test(name: str, operand: str) -> Callable[[Any], bool]:
    tests: dict[str, Callable[[str], bool]] = {
        "equals": lambda v: v == operand,
        "does_not_equal": lambda v: v != operand,
        "contains": lambda v: operand in v,
        "does_not_contain": lambda v: operand not in v,
        "starts_with": lambda v: v.startswith(operand),
        "ends_with": lambda v: v.endswith(operand),
    }
    return lambda value: tests[name](value or "")


def _date_test(name: str, operand: Any, where: str) -> Callable[[Any], bool]:
    moment = _instant(operand, where)
    whole_day = isinstance(operand, str) and len(operand) == len("2026-01-01")

    def test(value: Any) -> bool:
        seen = _moment(value)
        if seen is None:
            return False
        left: datetime | date = seen.date() if whole_day else seen
        right: datetime | date = moment.date() if whole_day else moment
        return {
            "equals": left == right,
            "before": left < right,
            "after": left > right,
            "on_or_before": left <= right,
            "on_or_after": left >= right,
        }[name]

    return test
