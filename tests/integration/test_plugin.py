"""The pytest plugin, driven through pytester: items, IDs, xdist, junit, -k, --lf, options."""

from __future__ import annotations

import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

import pytest

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"
SCENARIOS = """
import toy_store

store = toy_store.toy("store", "ignore-wal")
"""
STRICT = """
import toy_store

strict = toy_store.toy("strict", "ignore-wal", expect_findings=[])
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "--crashkit-report", "none", *args)


def ids(result: pytest.RunResult) -> list[str]:
    return sorted(line for line in result.outlines if "::" in line and "[" in line)


def test_a_suite_without_scenarios_is_untouched(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "= crashkit =" not in result.stdout.str()  # no summary section
    assert not (pytester.path / "reports").exists()


def test_every_crash_point_is_an_item_with_a_stable_readable_id(suite):
    result = run(suite, "--collect-only", "-q")
    collected = ids(result)
    assert "test_scenarios.py::store[correct-kill-p00-golden]" in collected
    assert "test_scenarios.py::store[correct-kill-p01-sql.commit-sync]" in collected
    assert "test_scenarios.py::store[ignore-wal-kill-p05-fs.rename-_write_atomic]" in collected
    assert "test_scenarios.py::store[correct-kill-p07-end]" in collected
    assert len(collected) == 16
    assert collected == ids(run(suite, "--collect-only", "-q"))  # stable across runs


def test_known_buggy_variants_fail_as_expected_failures_not_a_red_suite(suite):
    result = run(suite)
    result.assert_outcomes(passed=10, xfailed=6)
    assert result.ret == 0


def test_a_failing_point_shows_the_finding_diff_and_the_line_that_replays_it(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(test_strict=STRICT)
    result = run(pytester, "-k", "ignore-wal and p02")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*crash point 2 of 7 (kill): fs.create value.txt.tmp*",
            "*fault: killed right before it*",
            '*> with open(path + ".tmp", "w") as f:*',
            "FINDING crash-equivalence*",
            "-new value",
            "+old",
            "replay: crashkit replay test_strict.py::strict --variant ignore-wal --point 2",
        ]
    )
    rerun = "rerun:  pytest 'test_strict.py::strict[ignore-wal-kill-p02-fs.create-_write_atomic]'"
    assert rerun + " --crashkit-seed=" in result.stdout.str()


def test_xdist_collects_and_runs_exactly_the_same_items(suite):
    serial = run(suite, "-v", "-p", "no:xdist")
    parallel = run(suite, "-v", "-n", "2")

    def outcomes(result: pytest.RunResult) -> set[tuple[str, str]]:
        found = set()
        for line in result.outlines:
            node = re.search(r"test_scenarios\.py::\S+", line)
            outcome = re.search(r"\b(PASSED|XFAIL|FAILED)\b", line)
            if node and outcome:
                found.add((node.group(), outcome.group()))
        return found

    assert outcomes(serial) == outcomes(parallel)
    assert len(outcomes(serial)) == 16


def test_junit_xml_lists_every_point(suite):
    run(suite, "--junitxml=junit.xml")
    cases = ET.parse(suite.path / "junit.xml").getroot().iter("testcase")
    names = {case.get("name") for case in cases}
    assert len(names) == 16 and "store[correct-kill-p03-fs.write-_write_atomic]" in names


def test_k_selects_one_point_and_lf_reruns_only_the_failed_ones(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(test_strict=STRICT)
    one = run(pytester, "-k", "correct and p03")
    one.assert_outcomes(passed=1)
    first = run(pytester)
    failed = first.parseoutcomes()["failed"]
    assert failed > 0
    again = run(pytester, "--lf")
    again.assert_outcomes(failed=failed)


def test_results_are_written_as_json_lines(suite):
    run(suite, "--crashkit-results", "out/results.jsonl")
    records = [
        json.loads(line) for line in (suite.path / "out/results.jsonl").read_text().splitlines()
    ]
    types = [r["type"] for r in records]
    assert types[0] == "run" and types[-1] == "end"
    points = [r for r in records if r["type"] == "point"]
    assert len(points) == 16 and all(r["nodeid"].startswith("test_scenarios.py::") for r in points)
    assert {r["type"] for r in records} == {"run", "trace", "audit", "point", "end"}


def test_sampling_is_seeded_and_repeatable(suite):
    first = ids(
        run(suite, "--collect-only", "-q", "--crashkit-sample", "2", "--crashkit-seed", "7")
    )
    second = ids(
        run(suite, "--collect-only", "-q", "--crashkit-sample", "2", "--crashkit-seed", "7")
    )
    assert first == second and len(first) == 6  # point 0 and 2 sampled points per variant


def test_shards_partition_the_points(suite):
    shards = [
        set(ids(run(suite, "--collect-only", "-q", f"--crashkit-shard={i}/3"))) for i in (1, 2, 3)
    ]
    assert sum(map(len, shards)) == 16 and len(set.union(*shards)) == 16


def test_options_are_settable_in_the_ini_file(suite):
    suite.makeini("[pytest]\ncrashkit_sample = 1\ncrashkit_seed = 4\n")
    assert len(ids(run(suite, "--collect-only", "-q"))) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crashkit-faults", "bogus"], "*unknown fault kind(s)*bogus*; choose among kill*"),
        (["--crashkit-shard", "0/2"], "*write I/N with 1 <= I <= N*"),
        (["--crashkit-sample", "many"], "*is not a whole number*"),
    ],
)
def test_bad_options_are_usage_errors_with_the_fix(suite, args, message):
    result = run(suite, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_broken_scenario_is_one_failing_item_not_a_crashed_session(pytester):
    pytester.makepyfile(
        test_broken="""
        from crashkit import Scenario

        def setup(world):
            raise ValueError("no initial files")

        broken = Scenario(name="broken", setup=setup, workload=print, restart=print,
                          observe=lambda w: {})
        def test_other():
            pass
    """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*setup raised*", "*no initial files*"])


def test_asserts_in_invariants_are_rewritten_by_pytest(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(
        test_rewrite="""
        import toy_store

        def value_is_final(world):
            value = world.path("value.txt").read_text()
            assert value.strip() == "final"

        rewrite = toy_store.toy("rewrite", expect_findings=[])
        rewrite.invariants = (value_is_final,)
    """
    )
    result = run(pytester, "-k", "p00")
    result.assert_outcomes(failed=1)
    # pytest's rewriting shows both sides of the comparison, not a bare AssertionError.
    result.stdout.fnmatch_lines(["FINDING value_is_final: assert 'new value' == 'final'*"])


FIXTURE_CONFTEST = """
import pytest

EVENTS = {events!r}


@pytest.fixture(scope="session")
def expected_value():
    return {expected!r}


@pytest.fixture
def event_log():
    with open(EVENTS, "a") as log:
        log.write("setup\\n")
    yield EVENTS
    with open(EVENTS, "a") as log:
        log.write("teardown\\n")
"""
FIXTURE_SCENARIO = """
import pytest
import toy_store

pytestmark = pytest.mark.usefixtures("event_log")


def value_is_expected(world, expected_value):
    assert world.path("value.txt").read_text().strip() == expected_value


fixtures = toy_store.toy("fixtures")
fixtures.invariants = (*fixtures.invariants, value_is_expected)
"""


def _fixture_suite(pytester: pytest.Pytester, expected: str) -> pathlib.Path:
    events = pytester.path / "events.txt"
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makeconftest(FIXTURE_CONFTEST.format(events=str(events), expected=expected))
    pytester.makepyfile(test_fixtures=FIXTURE_SCENARIO)
    return events


def test_invariants_take_fixtures_which_are_set_up_and_torn_down_around_each_point(pytester):
    events = _fixture_suite(pytester, "new value")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=8)  # points 0..7 of the correct variant
    assert events.read_text() == "setup\nteardown\n" * 8  # usefixtures, once per point
    events.unlink()
    run(pytester, "-n", "2").assert_outcomes(passed=8)  # and under xdist
    assert sorted(events.read_text().split()) == ["setup"] * 8 + ["teardown"] * 8


def test_a_fixture_valued_invariant_fails_with_pytest_s_explanation(pytester):
    _fixture_suite(pytester, "something else")
    result = run(pytester, "-k", "p03")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["FINDING value_is_expected: assert 'new value' == 'something else'*"]
    )


def test_the_cli_says_a_scenario_with_fixtures_needs_pytest(pytester):
    _fixture_suite(pytester, "new value")
    result = pytester.run(
        sys.executable, "-m", "crashkit.cli", "run", "test_fixtures.py", "--report", "none", "-q"
    )
    assert result.ret != 0
    out = result.stdout.str()
    assert "expected_value" in out and "pytest" in out, out


def test_a_known_bug_mark_makes_a_variant_s_failures_expected(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(
        test_marked="""
        import pytest
        import toy_store

        pytestmark = pytest.mark.known_bug("ignore-wal")

        marked = toy_store.toy("marked", "ignore-wal", expect_findings=[])
    """
    )
    result = run(pytester)
    result.assert_outcomes(passed=10, xfailed=6)
    assert result.ret == 0


def test_a_known_bug_mark_on_a_variant_that_never_fails_is_reported(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(
        test_marked="""
        import pytest
        import toy_store

        pytestmark = pytest.mark.known_bug("correct")

        marked = toy_store.toy("marked", expect_findings=[])
    """
    )
    result = run(pytester)
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*known-buggy variant marked[[]correct[]] had no failing point*"])


def test_a_variant_expected_under_another_fault_still_fails_as_expected_under_a_kill(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(
        test_mapped="""
        import toy_store

        mapped = toy_store.toy("mapped", "ignore-wal", expect_findings={"ignore-wal": ["torn"]})
    """
    )
    result = run(pytester)
    result.assert_outcomes(passed=10, xfailed=6)  # as crashkit run counts it: a known bug


def test_parametrized_autouse_fixtures_leave_crash_points_alone(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(autouse=True, params=["sqlite", "postgres"])
        def backend(request):
            return request.param
    """
    )
    pytester.makepyfile(
        test_param="""
        import toy_store

        param = toy_store.toy("param")

        def test_plain(backend):
            assert backend in ("sqlite", "postgres")
    """
    )
    result = run(pytester)
    result.assert_outcomes(passed=8 + 2)  # the points once each; the plain test per value


def test_a_crash_point_can_be_run_again_by_a_rerunning_plugin(pytester):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makeconftest(
        """
        from _pytest.runner import runtestprotocol

        def pytest_runtest_protocol(item, nextitem):
            runtestprotocol(item, nextitem=nextitem, log=False)  # a first try, not reported
            for report in runtestprotocol(item, nextitem=nextitem):
                item.ihook.pytest_runtest_logreport(report=report)
            return True
    """
    )
    pytester.makepyfile(test_again="import toy_store\n\nagain = toy_store.toy('again')\n")
    result = run(pytester, "-k", "p03")
    assert result.ret == 0, result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str()
    assert result.parseoutcomes()["passed"] >= 1


def test_the_report_of_a_pytest_run_has_its_date_duration_rate_and_faults(suite):
    result = suite.runpytest_subprocess("-p", "no:randomly", "--crashkit-faults=kill,torn")
    assert result.ret == 0
    page = (suite.path / "reports/index.html").read_text()
    head = " ".join(re.sub(r"<[^>]+>", " ", page.split("</header>")[0]).split())
    assert "date unknown" not in head and re.search(r"date \d{4}-\d\d-\d\d \d\d:\d\d UTC", head)
    duration = re.search(r"duration ([\d.]+) s", head)
    assert duration and float(duration.group(1)) > 0
    assert re.search(r"points / s \d+\.\d", head)
    assert "faults kill, torn not run: error, lost-response, powerloss, recovery-crash" in head


def test_the_session_names_its_faults_those_not_run_and_a_fault_with_no_point(suite):
    result = run(suite, "--crashkit-faults=kill,lost-response")
    not_run = "not run: error, torn, powerloss, recovery-crash"
    result.stdout.fnmatch_lines(
        [
            f"crashkit: * crash point(s); faults run: kill, lost-response; {not_run}*",
            "lost-response offered no crash point in store[[]correct[]], store[[]ignore-wal[]]*",
            f"faults run: kill, lost-response; {not_run}*",
        ]
    )
    assert "seed " not in result.stdout.str()  # nothing was sampled


def test_the_seed_is_printed_when_a_sample_was_drawn(suite):
    result = run(suite, "--crashkit-sample=2")
    result.stdout.fnmatch_lines(["*a sample of 2 per variant, seed *", "seed * (repeat this*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_junit_has_a_one_line_message_and_the_point_s_properties(pytester, workers):
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(test_strict=STRICT)
    run(pytester, "--junitxml=junit.xml", *workers)
    cases = list(ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"))
    failing = [c for c in cases if c.find("failure") is not None]
    assert failing
    for case in failing:
        failure = case.find("failure")
        message = failure.get("message")
        assert "\n" not in message and message.startswith("crash point ")
        assert "crash-equivalence" in message or "journal-drained" in message
        assert "replay: crashkit replay" in failure.text  # the whole report in the element
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert set(props) >= {"fault", "point", "operation", "replay"}
        assert props["fault"] == "kill" and props["replay"].startswith("crashkit replay ")
