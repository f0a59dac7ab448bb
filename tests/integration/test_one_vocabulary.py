"""One vocabulary: the CLI's summary and the report's matrix give every variant the same
verdict and every fault the same word, for the default run and for ``--fault all``; a run
names the faults it ran and those it did not; a fault that offers no point says so."""

from __future__ import annotations

import pathlib
import re
import shutil

import pytest

from crashkit.cli import main

TOYS = pathlib.Path(__file__).parents[1] / "toys"
SCENARIOS = """
import toy_faults
import toy_store

# caught by torn only: under the default (kill) it is not swept, never "not caught"
inplace_pwrite = toy_faults.toy(
    "inplace_pwrite", "inplace-pwrite", expect_findings={"inplace-pwrite": ["torn"]}
)
# caught under kill
ignores_wal = toy_store.toy("ignores_wal", "ignore-wal")
"""


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())


def report_lines(page: str) -> dict[tuple[str, str], str]:
    """(scenario, variant) -> its matrix line: scenario, variant, each cell, the verdict."""
    lines = {}
    for tr in re.findall(r"<tr class=[^>]*data-rows=.*?</tr>", page, re.S):
        cells = [text_of(c) for c in re.findall(r"<td[^>]*>.*?</td>", tr, re.S)]
        scenario, variant = cells[0], cells[1].split()[0]
        lines[(scenario, variant)] = " ".join([scenario, variant, *cells[2:-1]])
    return lines


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copy(TOYS / "toy_faults.py", tmp_path)
    shutil.copy(TOYS / "toy_store.py", tmp_path)
    (tmp_path / "test_toys.py").write_text(SCENARIOS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("faults", [[], ["--fault", "all"]], ids=["default", "all"])
def test_the_report_and_the_cli_agree_on_every_verdict_and_cell(project, capsys, faults):
    argv = ["run", "test_toys.py", "-q", "--artifacts", "none", *faults]
    assert main(argv) == 0
    out = capsys.readouterr().out
    page = (project / "reports/index.html").read_text()
    lines = report_lines(page)
    assert len(lines) == 4
    for (scenario, variant), expected in lines.items():
        cli = [" ".join(line.split()) for line in out.splitlines()]
        found = [line for line in cli if line.startswith(f"{scenario} {variant} ")]
        assert found == [expected], (found, expected)
    assert lines[("ignores_wal", "ignore-wal")].endswith(" caught")
    if not faults:
        assert "not swept (caught by torn)" in lines[("inplace_pwrite", "inplace-pwrite")]
        assert "not caught" not in out and "not caught" not in text_of(page)
        assert "no longer caught" not in page
    else:
        assert lines[("inplace_pwrite", "inplace-pwrite")].endswith(" caught")


def test_a_run_names_the_faults_it_ran_and_those_it_did_not(project, capsys):
    assert main(["run", "test_toys.py", "-q", "--artifacts", "none", "-f", "kill,torn"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    not_run = "not run: error, lost-response, powerloss, recovery-crash"
    assert out.count(f"faults run: kill, torn; {not_run}") == 2  # the header and the summary
    head = text_of((project / "reports/index.html").read_text().split("</header>")[0])
    assert "faults kill, torn not run: error, lost-response, powerloss, recovery-crash" in head


def test_a_fault_that_offers_no_point_says_so(project, capsys):
    assert main(["run", "test_toys.py", "-q", "--artifacts", "none", "-f", "lost-response"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "lost-response offered no crash point in inplace_pwrite[correct]" in out
    assert "no points" in out
    page = text_of((project / "reports/index.html").read_text())
    # The variants in the order the sweep prepared them, which varies from run to run.
    sentence = page.split("Offered no crash point: lost-response in ", 1)[1].split(" (")[0]
    assert set(sentence.split(", ")) == {
        "inplace_pwrite[correct]",
        "inplace_pwrite[inplace-pwrite]",
        "ignores_wal[correct]",
        "ignores_wal[ignore-wal]",
    }
