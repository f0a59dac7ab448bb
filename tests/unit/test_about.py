"""A scenario's bookkeeping files and what it says about a real program."""

from __future__ import annotations

from crashkit import About, Scenario


def _scenario(**kwargs) -> Scenario:
    def nothing(world):
        return {}

    return Scenario("s", nothing, nothing, nothing, nothing, **kwargs)


def test_writes_to_bookkeeping_files_leave_a_round_quiet_and_others_do_not():
    scenario = _scenario(bookkeeping=["work/*", "*.lck"])
    assert scenario.is_bookkeeping("work/a..b.path1.lst")
    assert scenario.is_bookkeeping("work/x.lst-new -> work/x.lst")
    assert scenario.is_bookkeeping("run.lck")
    assert not scenario.is_bookkeeping("one/a.txt")
    assert not scenario.is_bookkeeping("work/x.lst -> one/x.lst")  # both names must be
    assert not _scenario().is_bookkeeping("work/a")


def test_a_finding_is_a_documented_limit_only_where_the_documentation_says_so():
    about = About(
        "git",
        ("git", "--version"),
        documented={"default/powerloss/*": "core.fsync: risks losing recent work"},
    )
    assert about.limit("default", "powerloss", "fsck_clean") == (
        "core.fsync: risks losing recent work"
    )
    assert about.limit("fsync-all", "powerloss", "fsck_clean") is None
    assert about.limit("default", "kill", "fsck_clean") is None
