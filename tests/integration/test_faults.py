"""Fault kinds beyond kill: each catches the bug it is for, and only that one.

The toy in ``toys/toy_faults.py`` has one variant per fault kind; each is clean under
a plain kill and caught by its own fault, and the correct program is clean under all.
"""

from __future__ import annotations

import errno
import pathlib
import sqlite3

import httpx
import pytest

from crashkit import Sweep, load_scenarios
from crashkit.engine.explorer import Explorer
from crashkit.engine.workdir import new_work_dir
from crashkit.faults import FAULT_KINDS, FAULTS, ChildFault, fault_kind, injected_error
from crashkit.faults.torn import SECTOR
from crashkit.launch import make_launcher
from crashkit.model.operation import Operation
from crashkit.probes import python as _probe

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_faults.py"

#: Each toy variant and the one fault kind meant to catch it.
CAUGHT_BY = {
    "error_drops_wal": ("error-drops-wal", "error"),
    "inplace_pwrite": ("inplace-pwrite", "torn"),
    "rename_without_fsync": ("rename-without-fsync", "powerloss"),
    "recovery_deletes_first": ("recovery-deletes-first", "recovery-crash"),
}


@pytest.fixture(scope="module")
def sweeps():
    """Per toy scenario: (variant, fault) -> failed points, under kill and its own fault."""
    outcome = {}
    for scenario in load_scenarios([TOYS]):
        _, fault = CAUGHT_BY[scenario.name]
        failed: dict[tuple[str, str], int] = {}

        def count(result, failed=failed):
            key = (result.variant, result.fault)
            failed[key] = failed.get(key, 0) + (0 if result.passed else 1)

        Sweep([scenario], faults=("kill", fault), jobs=2, on_result=count).run()
        outcome[scenario.name] = failed
    return outcome


@pytest.mark.parametrize("scenario", sorted(CAUGHT_BY))
def test_each_variant_is_clean_under_kill_and_caught_by_its_fault(sweeps, scenario):
    variant, fault = CAUGHT_BY[scenario]
    failed = sweeps[scenario]
    assert failed[("correct", "kill")] == 0 and failed[("correct", fault)] == 0
    assert failed[(variant, "kill")] == 0, f"{variant} must be clean under a plain kill"
    assert failed[(variant, fault)] > 0, f"{variant} was not caught by {fault}"


def test_power_cut_findings_name_the_state_that_broke():
    scenario = load_scenarios([TOYS], ["rename_without_fsync"])[0]
    explorer = Explorer(scenario, "rename-without-fsync", make_launcher(), new_work_dir())
    failing = [
        r
        for p in explorer.points_for("powerloss")
        if not (r := explorer.run_point(p, "powerloss")).passed
    ]
    assert failing
    message = failing[0].findings[0].message
    assert message.startswith("power cut state 1/") and "lost" in message
    assert "state(s) tried" in failing[0].injection


def test_recovery_crash_reports_nested_points():
    scenario = load_scenarios([TOYS], ["recovery_deletes_first"])[0]
    explorer = Explorer(scenario, "recovery-deletes-first", make_launcher(), new_work_dir())
    result = explorer.run_point(2, "recovery-crash")  # the journal entry is committed
    assert result.children and all(c.nested for c in result.children)
    assert [r["nested"] for r in result.records()] == [c.nested for c in result.children]
    failing = [c for c in result.children if c.findings]
    assert failing and failing[0].label.startswith("p02/r")
    assert result.findings[0].message.startswith(failing[0].label)


def _op(kind: str, target: str = "notes/a.md", index: int = 1, **detail) -> Operation:
    return Operation(index, kind, target, "f", "f.py", 1, detail)


def test_points_offered_by_each_fault_kind():
    trace = [
        _op("sql.commit", "s.db", 1),
        _op("fs.write", index=2, bytes=100),
        _op("fs.write", index=3, bytes=SECTOR + 1),
        _op("http.patch", "PATCH /v1/x", 4),
        _op("mark", "label", 5),
    ]
    assert FAULTS["kill"].points(trace) == [1, 2, 3, 4, 5, 6]
    assert FAULTS["error"].points(trace) == [1, 2, 3, 4]  # not markers, not N+1
    assert FAULTS["lost-response"].points(trace) == [4]
    assert FAULTS["torn"].points(trace) == [3]  # only writes longer than one sector
    assert FAULTS["powerloss"].points(trace) == [1, 2, 3, 4, 5, 6]
    assert set(FAULT_KINDS) == set(FAULTS)


def test_injected_errors_are_the_real_exception_types():
    assert injected_error(_op("fs.write")).errno == errno.ENOSPC
    assert injected_error(_op("fs.rename")).errno == errno.EIO
    commit = injected_error(_op("sql.commit", "s.db"))
    assert isinstance(commit, sqlite3.OperationalError) and "disk I/O error" in str(commit)
    assert "database is locked" in str(injected_error(_op("sql.exec", "s.db")))
    answers = [injected_error(_op("http.post", "POST /v1/pages", index=i)) for i in (3, 4, 5)]
    assert answers[0].response.status_code == 503
    assert answers[1].response.status_code == 429
    assert answers[1].response.headers["Retry-After"] == "1"
    assert isinstance(answers[2], httpx.ConnectTimeout)
    assert FAULTS["error"].describe(_op("http.post", "POST /v1/pages", index=3)) == (
        "HTTP 503 answered to POST /v1/pages"
    )


@pytest.fixture
def probe_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def activate(fault: str, crash_at: int) -> ChildFault:
        child = ChildFault(fault_kind(fault), crash_at, tmp_path, tmp_path)
        probe = _probe.Probe(tmp_path, lambda op: None, child.before)
        probe.want_data = child.want_data
        _probe.activate(probe)
        return child

    yield activate
    _probe.deactivate()
    _probe.uninstall_patches()


def test_a_lost_response_is_applied_by_the_remote_but_never_seen(probe_in):
    applied = []

    def remote(request: httpx.Request) -> httpx.Response:
        applied.append(request.url.path)
        return httpx.Response(200, json={"ok": True})

    probe_in("lost-response", 1)
    with httpx.Client(transport=httpx.MockTransport(remote)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("https://remote.test/v1/pages", json={})
        client.post("https://remote.test/v1/pages", json={})  # later requests go through
    assert applied == ["/v1/pages", "/v1/pages"]


def test_an_error_fault_answers_with_a_5xx_without_sending(probe_in):
    applied = []
    probe_in("error", 3)
    transport = httpx.MockTransport(lambda r: applied.append(r) or httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        client.post("https://remote.test/a")
        client.post("https://remote.test/b")
        answer = client.post("https://remote.test/c")  # point 3: 3 % 3 == 0 -> a 503
    assert answer.status_code == 503 and answer.json()["code"] == "service_unavailable"
    assert [r.url.path for r in applied] == ["/a", "/b"]
