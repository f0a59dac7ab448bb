"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``).

Chromium is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: NUL-separated JSON on file descriptors 3 and 4),
so the test needs the browser and nothing else: no driver, no Python package.
Clicks and hovers are real input events dispatched at an element's position.

Without ``chromium`` the tests are skipped, except in CI (``CI`` set), where a
missing browser fails them: CI must install it (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import importlib.util
import json
import os
import select
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from crashkit.output.report import write_report

SAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "make_sample_results.py"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
#: How long one DevTools command may take before the test gives up.
COMMAND_TIMEOUT = 30.0


def _load_sample() -> Any:
    spec = importlib.util.spec_from_file_location("make_sample_results", SAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sample = _load_sample()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _high_pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 and up: never 3 or 4, which the browser gets."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]


class DevToolsError(RuntimeError):
    """A DevTools command failed, or the browser stopped answering."""


class Chromium:
    """A headless Chromium driven over the DevTools pipe; one page (tab) at a time."""

    def __init__(self, binary: str, profile: Path) -> None:
        commands_r, self._commands = _high_pipe()
        self._replies, replies_w = _high_pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4. posix_spawn puts
        # the pipes there (the pipes are numbered 10 and up, so neither dup2 clobbers the
        # other's source) in a new session, and no Python code runs in the child.
        self.pid = os.posix_spawn(
            binary,
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, commands_r, 3),
                (os.POSIX_SPAWN_DUP2, replies_w, 4),
            ],
            setsid=True,
        )
        os.close(commands_r)
        os.close(replies_w)
        self._buffer = b""
        self._next = 0
        self.session: str | None = None
        #: Every event received, in order (dialogs, console messages...).
        self.events: list[dict[str, Any]] = []

    # -- protocol ---------------------------------------------------------------------

    def send(self, method: str, *, browser: bool = False, **params: Any) -> dict[str, Any]:
        """Run one command (on the page's session unless ``browser``) and return its result."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session is not None and not browser:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data) :]
        return self._reply(self._next, time.monotonic() + COMMAND_TIMEOUT)

    def _reply(self, number: int, deadline: float) -> dict[str, Any]:
        while True:
            message = self._message(deadline)
            if message.get("id") != number:
                self.events.append(message)
                continue
            if "error" in message:
                raise DevToolsError(f"{message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError("no answer from chromium in time")
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise DevToolsError("chromium closed the DevTools pipe (did it crash?)")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    # -- pages ------------------------------------------------------------------------

    def open(self, url: str, *, width: int = 1400, height: int = 900) -> float:
        """Open ``url`` in a fresh tab; return seconds until the report said it is ready."""
        if self.session is not None:
            self.send("Target.closeTarget", browser=True, targetId=self.target)
            self.session = None
        self.target = self.send("Target.createTarget", browser=True, url="about:blank")["targetId"]
        attached = self.send(
            "Target.attachToTarget", browser=True, targetId=self.target, flatten=True
        )
        self.session = attached["sessionId"]
        self.events.clear()
        for domain in ("Page.enable", "Runtime.enable"):
            self.send(domain)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        started = time.monotonic()
        self.send("Page.navigate", url=url)
        self.wait_for(
            "document.documentElement && document.documentElement.dataset.ready === 'true'"
        )
        return time.monotonic() - started

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            raise DevToolsError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout: float = COMMAND_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"!!({expression})"):
            if time.monotonic() > deadline:
                raise DevToolsError(f"timed out waiting for {expression}")
            time.sleep(0.02)

    def _center(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise DevToolsError(f"no element matches {selector}")
        return box[0], box[1]

    def click(self, selector: str) -> None:
        """A real left click at the middle of the first element matching ``selector``."""
        x, y = self._center(selector)
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def hover(self, selector: str) -> None:
        x, y = self._center(selector)
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def select(self, selector: str, value: str) -> None:
        """Choose an option as a person would: the value changes, then ``change`` fires."""
        self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" e.value = {json.dumps(value)};"
            " e.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )

    def text(self, selector: str) -> str:
        value = self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"
        )
        return str(value)

    def count(self, selector: str) -> int:
        return int(self.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length"))

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def dialogs(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("method") == "Page.javascriptDialogOpening"]

    def _wait(self, timeout: float) -> bool:
        """Whether the browser exited (and was reaped) within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        with contextlib.suppress(DevToolsError, OSError):
            self.send("Browser.close", browser=True)
        if not self._wait(10):
            os.killpg(self.pid, signal.SIGKILL)  # the session this test started
            self._wait(10)
        os.close(self._commands)
        os.close(self._replies)


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    binary = chromium_path()
    if binary is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must install it so this test runs", pytrace=False)
        pytest.skip(message)
    chromium = Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chromium
    finally:
        chromium.close()


def small_sweep() -> list[dict[str, Any]]:
    """Four rows: a clean one, a failing one, a known-buggy one, a sampled one (other fault)."""
    s = sample
    ops, _ = s.note_ops("push", "correct", 10)
    records = [s.run_record(), s.trace("push", "correct", ops)]
    records += [s.point("push", "correct", k, ops) for k in range(12)]
    records.append(s.trace("push", "regressed", ops))
    for k in range(12):
        found = []
        if k in (3, 4):
            found = [
                s.finding(
                    "crash-equivalence",
                    "the recovered world differs",
                    "--- golden/notes/a.md\n+++ recovered/notes/a.md\n@@ -1 +1 @@\n-new\n+old\n",
                )
            ]
        if k == 7:
            found = [s.finding("journal-drained", "1 incomplete journal entry remains")]
        extra = {"output": sample.HOSTILE, "source": "os.replace(tmp, path)"} if k == 3 else {}
        records.append(s.point("push", "regressed", k, ops, findings=found, **extra))
    records.append(s.trace("push", "wal-delete-before-push", ops, expected=True))
    for k in range(12):
        found = [s.finding("remote-not-stale", "remote page n001 is stale")] if k in (7, 8) else []
        records.append(
            s.point("push", "wal-delete-before-push", k, ops, findings=found, expected=True)
        )
    records.append(s.trace("push", "correct", ops, fault="torn"))
    records += [s.point("push", "correct", k, ops, fault="torn") for k in (0, 2, 5, 9, 11)]
    records.append(
        s.audit(
            "push",
            "wal-delete-before-push",
            [
                {
                    **{
                        k: ops[6][k]
                        for k in ("index", "kind", "target", "function", "file", "line")
                    },
                    "entity": "n001",
                    "reason": "no open journal entry covers this entity",
                }
            ],
        )
    )
    return records


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_report(small_sweep(), tmp_path_factory.mktemp("report") / "index.html")
    return path.as_uri()


@pytest.fixture
def page(browser: Chromium, report_url: str) -> Chromium:
    browser.open(report_url)
    return browser


def row_of(page: Chromium, variant: str, fault: str = "kill") -> str:
    """The CSS selector of a variant's strip section."""
    found = page.evaluate(
        "([...document.querySelectorAll('#points .row')].find(r =>"
        f" r.querySelector('.variant').textContent === {json.dumps(variant)} &&"
        f" r.dataset.fault === {json.dumps(fault)}) || {{}}).id"
    )
    assert found, f"no strip for {variant}/{fault}"
    return f"#{found}"


# -- tests --------------------------------------------------------------------------


def test_the_strip_shows_every_point_colored_by_outcome(page):
    regressed = row_of(page, "regressed")
    assert page.count(f"{regressed} .strip .c") == 12  # points 0..11: golden, N=10, end
    assert page.count(f"{regressed} .strip .c.f") == 3
    assert page.count(f"{row_of(page, 'wal-delete-before-push')} .strip .c.x") == 2
    sampled = row_of(page, "correct", "torn")
    assert page.count(f"{sampled} .strip .c.n") == 7  # not run: listed all the same
    assert page.count(f"{row_of(page, 'wal-delete-before-push')} .strip .c.u") == 1


def test_hovering_a_point_names_its_operation_and_caller(page):
    page.hover(f'{row_of(page, "regressed")} .c[data-c="3"]')
    page.wait_for("!document.getElementById('tip').hidden")
    tip = page.text("#tip")
    assert "p03 fs.write notes/n001.md.tmp" in tip
    assert "write_atomic" in tip and "kasten/files.py:24" in tip
    assert "crash-equivalence" in tip


def test_clicking_a_failing_point_shows_its_details(page):
    regressed = row_of(page, "regressed")
    assert page.evaluate(f"document.querySelector('{regressed} .detail').hidden")
    page.click(f'{regressed} .c[data-c="4"]')
    detail = f"{regressed} .detail"
    page.wait_for(f"!document.querySelector('{detail}').hidden")
    text = page.text(detail)
    assert "p04 fs.fsync notes/n001.md.tmp" in text
    assert "write_atomic" in text and "kasten/files.py:25" in text
    assert "crash-equivalence" in text and "the recovered world differs" in text
    assert page.text(f"{detail} pre.diff .del") == "-new"
    assert page.text(f"{detail} pre.diff .add") == "+old"
    assert "crashkit replay scenarios/test_push.py::push --variant regressed --point 4" in text
    assert page.count(f"{detail} .rounds tbody tr") == 1
    assert page.evaluate("location.hash").startswith("#r")


def test_a_window_of_vulnerability_opens_its_first_point(page):
    regressed = row_of(page, "regressed")
    assert page.count(f"{regressed} .windows li") == 2  # p03-p04 and p07
    page.click(f"{regressed} .windows li:nth-child(2) button")
    assert "journal-drained" in page.text(f"{regressed} .detail")


def test_the_failing_only_filter_hides_clean_variants_and_folds_passing_points(page):
    assert page.count("#points .row:not([hidden])") == 4
    page.click("#f-failing")
    assert page.count("#points .row:not([hidden])") == 2
    regressed = row_of(page, "regressed")
    assert page.count(f"{regressed} .strip .gap") == 1  # p08..p11 folded
    assert page.count(f"{regressed} .strip .c.f") == 3
    assert "showing 2 of 4" in page.text("#shown")


def test_the_fault_and_invariant_filters(page):
    page.select("#f-fault", "torn")
    assert page.count("#points .row:not([hidden])") == 1
    assert page.evaluate("document.querySelector('#points .row:not([hidden])').dataset.fault") == (
        "torn"
    )
    page.select("#f-fault", "")
    page.select("#f-invariant", "journal-drained")
    assert page.count("#points .row:not([hidden])") == 1
    regressed = row_of(page, "regressed")
    assert page.count(f"{regressed} .strip .c.f.dim") == 2  # failing, but another invariant
    assert page.count(f"{regressed} .windows li") == 1


def test_program_output_renders_as_text(page, tmp_path):
    regressed = row_of(page, "regressed")
    page.click(f'{regressed} .c[data-c="3"]')
    output = page.text(f"{regressed} .detail pre.out")
    assert "</script><script>alert(1)</script><img src=x" in output
    assert "\u2400" in output  # a NUL byte, shown as a visible symbol
    assert page.dialogs() == []
    assert page.evaluate("window.__pwned === undefined")
    assert page.count("img") == 0
    assert page.count("script") == 2  # the data and the page's own script


def faults_sweep() -> list[dict[str, Any]]:
    """One variant under three faults: recovery-crash (nested points), lost-response (none
    offered) and torn (one write offered)."""
    s = sample
    ops, _ = s.note_ops("push", "correct", 6)
    records = [s.run_record(), s.trace("push", "correct", ops, fault="recovery-crash")]
    records.append(s.point("push", "correct", 0, ops, fault="recovery-crash"))
    for k in range(1, 8):
        for r in (1, 2, 3) if k == 3 else (1,):
            found = [s.finding("crash-equivalence", f"r{r} differs")] if k == 3 and r > 1 else []
            kept = f"artifacts/push correct/p{k:03d}r{r:03d}" if found else None
            records.append(
                s.point(
                    "push", "correct", k, ops, fault="recovery-crash", findings=found,
                    nested=r, artifacts=kept,
                )
            )  # fmt: skip
    records.append(s.trace("push", "correct", ops, fault="lost-response", points=[]))
    records.append(s.trace("push", "correct", ops, fault="torn", points=[3]))
    records.append(s.point("push", "correct", 3, ops, fault="torn"))
    return records


@pytest.fixture
def faults_page(browser: Chromium, tmp_path: Path) -> Chromium:
    browser.open(write_report(faults_sweep(), tmp_path / "index.html").as_uri())
    return browser


def test_a_point_crashed_again_in_recovery_lists_each_crash(faults_page):
    page = faults_page
    row = row_of(page, "correct", "recovery-crash")
    assert page.count(f"{row} .strip .c") == 8  # points 0..7: nested ones inside their point
    assert page.count(f"{row} .strip .c.f") == 1
    assert "1 failing of 8 run" in page.text(f"{row} .counts")
    page.click(f'{row} .c[data-c="3"]')
    detail = f"{row} .detail"
    page.wait_for(f"!document.querySelector('{detail}').hidden")
    assert page.count(f"{detail} table.nested tbody tr") == 3
    assert page.text(f"{detail} table.nested tbody tr:nth-child(1) td") == "p03/r01"
    assert "p03/r02: failed" in page.text(f"{detail} .nested-title")  # the first failing one
    text = page.text(detail)
    assert "killed right before it, then killed again inside recovery" in text
    assert "r2 differs" in text and "r3 differs" not in text
    link = page.evaluate(f"document.querySelector('{detail} .nested-facts a.artifacts').href")
    assert link.endswith("/artifacts/push%20correct/p003r002/")
    assert link.startswith("file:///")  # relative to the report's folder
    page.click(f'{detail} table.nested button[data-n="2"]')
    assert "p03/r03: failed" in page.text(f"{detail} .nested-title")
    assert "r3 differs" in page.text(detail)
    assert page.evaluate("location.hash").endswith("-p3-n3")


def test_a_nested_point_opens_from_its_link(browser, tmp_path):
    path = write_report(faults_sweep(), tmp_path / "index.html")
    browser.open(path.as_uri())
    row = row_of(browser, "correct", "recovery-crash")
    browser.open(f"{path.as_uri()}#r{row.removeprefix('#row-')}-p3-n3")
    browser.wait_for(f"!document.querySelector('{row} .detail').hidden")
    assert "p03/r03: failed" in browser.text(f"{row} .detail .nested-title")


def test_a_fault_offering_no_point_has_an_empty_strip(faults_page):
    page = faults_page
    row = row_of(page, "correct", "lost-response")
    assert page.count(f"{row} .strip .c") == 0
    assert "no points" in page.text(f"{row} .badge")
    assert "offers no point" in page.text(f"{row} .counts")
    torn = row_of(page, "correct", "torn")
    assert page.count(f"{torn} .strip .c") == 1
    page.click(f"{torn} .c")
    assert "only its first sectors reached the disk" in page.text(f"{torn} .detail")


def test_screenshot(browser, tmp_path):
    records = sample.synthetic(600)
    path = write_report(records, tmp_path / "index.html", previous=sample.previous_of(records))
    browser.open(path.as_uri(), width=1280, height=1100)
    browser.click("#f-failing")
    browser.click("#points .c.f")  # the regression in a correct variant
    browser.evaluate("window.scrollTo(0, 0)")
    shot = browser.screenshot(tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
    if os.environ.get("CRASHKIT_SCREENSHOT"):  # refresh docs/report.png by hand
        shutil.copyfile(shot, os.environ["CRASHKIT_SCREENSHOT"])


def test_a_nightly_size_report_becomes_interactive_quickly(browser, tmp_path):
    records = sample.synthetic(20_000, sampled=False)
    started = time.monotonic()
    path = write_report(records, tmp_path / "nightly.html", previous=sample.previous_of(records))
    rendered = time.monotonic() - started
    points = sum(r["type"] == "point" for r in records)
    ready = browser.open(path.as_uri())
    assert points == browser.count("#points .c") == 20_000
    script = browser.evaluate("window.crashkitReady") / 1000
    # The page's own time to draw a failing point's details (event to layout done).
    drawn = browser.evaluate(
        "(() => { const c = document.querySelector('#points .c.f'), t = performance.now();"
        " c.dispatchEvent(new MouseEvent('click', {bubbles: true}));"
        " document.body.offsetHeight; return performance.now() - t; })()"
    )
    browser.click("#points .c.x")  # and a real click on another one
    browser.wait_for("document.querySelector('.c.x.sel')")
    size = path.stat().st_size / 1e6
    print(
        f"\n{points} points, {size:.1f} MB of HTML rendered in {rendered:.2f} s;"
        f" interactive {ready:.2f} s after navigation (its script done at {script:.2f} s);"
        f" a failing point's details drawn in {drawn:.0f} ms"
    )
    assert ready < 30
