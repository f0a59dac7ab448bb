"""The ``kasten`` command as a person uses it: init, link, sync, status, and their mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kasten_support import page_text

from crashkit.demo.kasten.cli import main
from crashkit.remotes.notion.fake import FakeNotion


def kasten_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def root(fast_path: Path) -> Path:
    path = fast_path / "notes"
    path.mkdir()
    return path


def test_a_person_inits_links_syncs_and_reads_the_status(
    root: Path, fake: FakeNotion, capsys: pytest.CaptureFixture[str]
) -> None:
    page = fake.create_page("Todo", blocks=["buy milk"])
    d = str(root)
    assert (
        kasten_cli(capsys, "--dir", d, "init", "--remote", fake.base_url, "--token", fake.token)[0]
        == 0
    )
    status, out, _ = kasten_cli(capsys, "--dir", d, "link", "todo.md", page)
    assert status == 0 and "linked todo.md" in out
    status, out, _ = kasten_cli(capsys, "--dir", d, "sync")
    assert (status, out) == (0, "pulled: todo.md\n")
    (root / "todo.md").write_text("buy milk\n\nbuy bread\n")
    (root / "loose.md").write_text("x\n")
    status, out, _ = kasten_cli(capsys, "--dir", d, "status")
    assert "modified  todo.md" in out and "untracked loose.md" in out
    status, out, _ = kasten_cli(capsys, "--dir", d, "sync")
    assert "pushed: todo.md" in out
    assert "untracked (crashkit-kasten link FILE PAGE_ID): loose.md" in out
    assert page_text(fake, page) == "buy milk\n\nbuy bread\n"
    status, out, _ = kasten_cli(capsys, "--dir", d, "status", "--json")
    assert json.loads(out)["entities"][0]["state"] == "synced"
    assert (
        kasten_cli(capsys, "--dir", d, "sync")[1]
        == "untracked (crashkit-kasten link FILE PAGE_ID): loose.md\n"
    )


def test_the_cli_works_against_the_fake_served_on_loopback(
    root: Path, fast_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeNotion(fast_path / "served.sqlite3")
    page = fake.create_page("Served", blocks=["over http"])
    with fake.serve() as server:
        d = str(root)
        assert (
            kasten_cli(capsys, "--dir", d, "init", "--remote", server.url, "--token", fake.token)[0]
            == 0
        )
        assert kasten_cli(capsys, "--dir", d, "link", "served.md", page)[0] == 0
        assert kasten_cli(capsys, "--dir", d, "sync")[:2] == (0, "pulled: served.md\n")
    assert (root / "served.md").read_text() == "over http\n"


def test_the_console_script_is_installed(root: Path) -> None:
    script = Path(sys.executable).with_name("crashkit-kasten")
    result = subprocess.run(
        [str(script), "--dir", str(root), "status"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "is not a kasten folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "problem", "fix"),
    [
        (["sync"], "is not a kasten folder", "crashkit-kasten --dir"),
        (["link", "a.md", "0" * 32], "is not a kasten folder", "init --remote URL"),
        (
            ["init", "--remote", "api.notion.com", "--token", "t"],
            "must be an http(s) URL",
            "base URL",
        ),
        (["init", "--remote", "https://api.notion.com", "--token", " "], "no token", "--token"),
    ],
)
def test_mistakes_before_init_exit_2_with_the_problem_and_the_fix(
    root: Path, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str, fix: str
) -> None:
    status, out, err = kasten_cli(capsys, "--dir", str(root), *argv)
    assert (status, out) == (2, "")
    assert problem in err and "fix: " in err and fix in err


def test_init_of_a_missing_folder_says_so(
    fast_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = kasten_cli(
        capsys, "--dir", str(fast_path / "nope"), "init", "--remote", "http://x", "--token", "t"
    )
    assert status == 2 and "does not exist" in err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["link", "a.md", "not-a-page"], "is not a Notion page id"),
        (["link", "../outside.md", "0" * 32], "is outside the synced folder"),
        (["link", ".kasten/config.json", "0" * 32], "one of kasten's own files"),
        (["link", "", "0" * 32], "the file to link is empty"),
    ],
)
def test_link_mistakes_exit_2(
    folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    status, _, err = kasten_cli(capsys, "--dir", str(folder), *argv)
    assert status == 2 and problem in err and "Traceback" not in err


def test_linking_twice_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(folder)
    assert kasten_cli(capsys, "--dir", d, "link", "a.md", "1" * 32)[0] == 0
    status, _, err = kasten_cli(capsys, "--dir", d, "link", "a.md", "2" * 32)
    assert status == 2 and "already linked to page" in err
    status, _, err = kasten_cli(capsys, "--dir", d, "link", "b.md", "1" * 32)
    assert status == 2 and "already linked to 'a.md'" in err


def test_an_unknown_variant_names_the_valid_ones(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASTEN_BUGS", "conflict-no-wal,typo")
    status, _, err = kasten_cli(capsys, "--dir", str(folder), "sync")
    assert status == 2 and "'typo'" in err and "push-not-idempotent" in err


def test_a_wrong_token_exits_1_and_says_what_to_check(
    folder: Path,
    fake: FakeNotion,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kasten_cli(capsys, "--dir", str(folder), "link", "a.md", fake.create_page("a"))
    monkeypatch.setenv("KASTEN_TOKEN", "wrong")
    status, _, err = kasten_cli(capsys, "--dir", str(folder), "sync")
    assert status == 1 and "401" in err and "check the token" in err


def test_a_skipped_note_exits_1(
    folder: Path, fake: FakeNotion, capsys: pytest.CaptureFixture[str]
) -> None:
    kasten_cli(capsys, "--dir", str(folder), "link", "a.md", "3" * 32)
    status, out, _ = kasten_cli(capsys, "--dir", str(folder), "sync")
    assert status == 1 and out.startswith("skipped a.md: ") and "shared with the integration" in out


def test_status_of_an_empty_folder_suggests_linking(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no notes linked yet" in kasten_cli(capsys, "--dir", str(folder), "status")[1]


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
