"""A command as a phase: what it accepts, how it fills its placeholders, how it fails."""

from __future__ import annotations

import os
import pickle
import sys

import pytest

from crashkit import Command, CommandFailed, Scenario, ScenarioError, World


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"argv": "sqlite3 state.db VACUUM"}, "split it"),
        ({"argv": []}, "split it"),
        ({"argv": ["echo", 3]}, "pass each as a str"),
        ({"argv": ["true"], "cwd": "/tmp"}, "relative to the world's root"),
        ({"argv": ["true"], "cwd": "notes/../.."}, "relative to the world's root"),
    ],
)
def test_a_malformed_command_is_refused_with_the_fix(kwargs, fix):
    with pytest.raises(ScenarioError) as caught:
        Command(**kwargs)
    assert fix in str(caught.value)


def test_placeholders_and_environment_reach_the_program(tmp_path, monkeypatch):
    monkeypatch.setenv("CRASHKIT_REMOTE_URL", "http://127.0.0.1:9")
    (tmp_path / "sub").mkdir()
    say = 'printf "%s|%s|%s|%s|%s" "$1" "$2" "$3" "$WHERE" "$PWD" > out'
    command = Command(
        ["sh", "-c", say, "sh", "{world}", "{remote}", "{python}"],
        env={"WHERE": "{world}/sub"},
        cwd="sub",
    )
    command(World(tmp_path))
    world, remote, python, where, cwd = (tmp_path / "sub" / "out").read_text().split("|")
    assert (world, remote, python) == (str(tmp_path), "http://127.0.0.1:9", sys.executable)
    assert where == f"{tmp_path}/sub" and os.path.samefile(cwd, tmp_path / "sub")


def test_an_exit_status_not_accepted_is_the_phase_failing(tmp_path):
    with pytest.raises(CommandFailed) as caught:
        Command(["sh", "-c", "exit 3"])(World(tmp_path))
    assert caught.value.status == 3 and "exited with status 3 (accepted: 0)" in str(caught.value)
    Command(["sh", "-c", "exit 3"], ok=(0, 3))(World(tmp_path))  # accepted: no error


def test_a_command_pickles_and_makes_a_scenario_black_box(tmp_path):
    sync = Command(["true"], env={"A": "1"})
    assert pickle.loads(pickle.dumps(sync)) == sync
    scenario = Scenario(name="s", setup=lambda w: None, workload=sync, restart=sync,
                        observe=lambda w: {})  # fmt: skip
    assert scenario.commands
    python = Scenario(name="p", setup=lambda w: None, workload=lambda w: None,
                      restart=lambda w: None, observe=lambda w: {})  # fmt: skip
    assert not python.commands
