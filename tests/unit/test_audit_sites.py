"""The journal audit, compact: one line per site, the program code that asked for the
mutations rather than the helper that made them."""

from __future__ import annotations

from crashkit.scenario.journal import audit_sites


def uncovered(kind, target, function, file, line, stack=(), **entity):
    return {
        "kind": kind,
        "target": target,
        "function": function,
        "file": file,
        "line": line,
        "detail": {"stack": list(stack)},
        "entity": entity,
        "reason": "no open journal entry covers it",
    }


WRITE = ["write_atomic (files.py:{})", "resolve (engine.py:212)", "sync (engine.py:90)"]


def test_mutations_through_a_helper_are_blamed_on_its_caller_one_line_per_site():
    found = [
        uncovered(k, "notes/a.md.tmp", "write_atomic", "files.py", n, [f.format(n) for f in WRITE],
                  path="a.md")
        for k, n in (("fs.create", 62), ("fs.write", 64), ("fs.rename", 67))
    ] + [
        uncovered("http.delete", f"DELETE /v1/blocks/{i}", "_call", "remote.py", 183,
                  ["_call (remote.py:183)", "push (engine.py:300)"])
        for i in range(9)
    ]  # fmt: skip
    assert audit_sites(found) == [
        "resolve, engine.py:212 (through write_atomic, files.py:62, 64, 67): "
        "fs.create, fs.write, fs.rename (path=a.md)",
        "push, engine.py:300 (through _call, remote.py:183): http.delete x9 "
        "(DELETE /v1/blocks/0; DELETE /v1/blocks/1; 7 more)",
    ]


def test_a_mutation_made_where_it_was_asked_for_is_its_own_site():
    found = [
        uncovered("fs.write", "n.md", "handle_conflict", "engine.py", n, [], path="n.md")
        for n in (212, 214)
    ]
    assert audit_sites(found) == ["handle_conflict, engine.py:212, 214: fs.write x2 (path=n.md)"]
