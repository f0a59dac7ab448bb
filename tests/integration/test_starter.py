"""crashkit's fork server: exit statuses, timeouts, and nothing left behind."""

from __future__ import annotations

import os
import pathlib
import signal
import time

import pytest

from crashkit import Scenario
from crashkit.errors import ChildError
from crashkit.launch.forkserver import ForkServerLauncher, _server
from crashkit.model.process import ChildJob


def _phase(world) -> None:
    import os
    import time

    action = os.environ["ACTION"]
    if action == "sleep":
        time.sleep(60)
    elif action.startswith("exit"):
        os._exit(int(action[4:]))
    elif action == "kill":
        os.kill(os.getpid(), 9)


def _job(tmp_path, action: str) -> ChildJob:
    run_dir = tmp_path / f"run-{action}-{time.monotonic_ns()}"
    run_dir.mkdir()
    scenario = Scenario(
        name="starter", setup=_phase, workload=_phase, restart=_phase, observe=lambda w: {}
    )
    return ChildJob(scenario, "workload", str(tmp_path), str(run_dir), env={"ACTION": action})


@pytest.mark.parametrize(("action", "status"), [("exit0", 0), ("exit3", 3), ("kill", -9)])
def test_a_child_s_exit_status_is_reported_as_it_ended(tmp_path, action, status):
    starter = ForkServerLauncher()
    exit = starter.run(_job(tmp_path, action), timeout=30)
    assert (exit.status, exit.timed_out) == (status, False)
    assert exit.killed == (status == -9)


def test_a_child_that_outlives_its_timeout_is_killed_with_its_group(tmp_path):
    starter = ForkServerLauncher()
    started = time.monotonic()
    exit = starter.run(_job(tmp_path, "sleep"), timeout=0.5)
    assert exit.timed_out and exit.status == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_children_run_in_parallel_from_one_server(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    starter = ForkServerLauncher()
    with ThreadPoolExecutor(4) as pool:
        exits = list(pool.map(lambda _: starter.run(_job(tmp_path, "exit0"), 30), range(12)))
    assert [e.status for e in exits] == [0] * 12


def test_a_fork_server_dying_under_a_child_is_an_error_and_the_next_child_gets_a_new_one(
    tmp_path,
):
    from concurrent.futures import ThreadPoolExecutor

    starter = ForkServerLauncher(("json",))  # a server of its own (its own preload list)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(starter.run, _job(tmp_path, "sleep"), 60)
        deadline = time.monotonic() + 10
        while not starter._live and time.monotonic() < deadline:
            time.sleep(0.01)
        (child,) = starter._live
        server = _server(("json",), {"ACTION": "sleep"})  # one server per environment
        os.kill(server.process.pid, signal.SIGKILL)
        with pytest.raises(
            ChildError, match=r"fork server died while this child ran \(killed by SIGKILL"
        ):
            running.result(timeout=10)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child)  # it died with its server
    again = starter.run(_job(tmp_path, "sleep"), 0.5)  # the same environment, a new server
    assert again.timed_out and again.status == -signal.SIGKILL
    assert _server(("json",), {"ACTION": "sleep"}) is not server


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet is dead)."""
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_closed_starter_kills_its_running_children_and_refuses_new_ones(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    starter = ForkServerLauncher()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(starter.run, _job(tmp_path, "sleep"), 60)
        deadline = time.monotonic() + 10
        while not starter._live and time.monotonic() < deadline:
            time.sleep(0.01)
        starter.close()
        with pytest.raises(ChildError, match="stopping"):
            running.result(timeout=10)
    with pytest.raises(ChildError, match="closed"):
        starter.run(_job(tmp_path, "exit0"), 30)
