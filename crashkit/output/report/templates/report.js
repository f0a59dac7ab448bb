/* crashkit report: draws the strips and the points' details from the embedded JSON.
 *
 * Program output (targets, messages, diffs, output) only ever reaches the page
 * through textContent; the only markup built from strings holds numbers and
 * fixed class names. Details are built on click, so a report with tens of
 * thousands of points opens fast.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("crashkit-data").textContent);
  // A variant's faults share its trace: each row points at it.
  DATA.rows.forEach(function (row) { row.ops = DATA.traces[row.trace]; });
  var STATUS = { p: "passed", f: "failed", x: "failed, as expected (known bug)", n: "not run" };
  var BADGE = { p: "good", f: "bad", x: "known", n: "" };
  var UNCOVERED = 1, NEWLY_FAILING = 2, NEWLY_FIXED = 4;
  var DENSE = 300;        // strips longer than this use narrow cells
  var COLLAPSE = 4;       // with "failing only", this many quiet points in a row fold into one
  var WINDOWS_SHOWN = 30; // windows of vulnerability listed per strip
  var filters = { failing: false, fault: "", invariant: "" };
  var drawnWith = {};     // row index -> the filter key its strip was drawn with
  var selected = null;

  // -- small helpers ----------------------------------------------------------------

  function S(value) { return typeof value === "number" ? DATA.strings[value] : value; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function pointLabel(point, nested) {
    return "p" + pad(point) + (nested === null || nested === undefined ? "" : "/r" + pad(nested));
  }

  function where(op) {
    if (op[3] && op[3] !== "?") return op[2] + " \u00b7 " + op[3] + ":" + op[4];
    return op[2] === "-" || op[2] === "?" ? "" : op[2];
  }

  // "fs.write notes.md", or the golden run's and the end point's own words.
  function opText(op) {
    return op[0] === "none" || op[0] === "end" ? op[1] : op[0] + " " + op[1];
  }

  function opLine(op) {
    var caller = where(op);
    return opText(op) + (caller ? "  \u2190 " + caller : "");
  }

  function opOf(row, cell) {
    if (cell[3] >= 0) return DATA.details[cell[3]].op;
    return row.ops[cell[0]] || ["?", "unknown operation", "?", "?", 0];
  }

  // A cell: [point, nested, status, detail, flags, injection]; nested is null, or one
  // [nested point, status, detail, flags] per crash inside recovery.
  function findingsOf(detail) {
    return detail >= 0 ? DATA.details[detail].findings.map(function (f) { return f[0]; }) : [];
  }

  function invariantsOf(cell) {
    if (!cell[1]) return findingsOf(cell[3]);
    var names = [];
    cell[1].forEach(function (entry) {
      findingsOf(entry[2]).forEach(function (name) {
        if (names.indexOf(name) < 0) names.push(name);
      });
    });
    return names;
  }

  function failing(cell) { return cell[2] === "f" || cell[2] === "x"; }

  function rowFails(row) { return row.cells.some(failing); }

  function rowEl(r) { return document.getElementById("row-" + r); }

  // -- strips -----------------------------------------------------------------------

  function cellClass(row, cell) {
    var cls = "c " + cell[2];
    if (cell[4] & UNCOVERED) cls += " u";
    if (cell[4] & NEWLY_FAILING) cls += " new";
    if (cell[4] & NEWLY_FIXED) cls += " fixed";
    if (filters.invariant && failing(cell) && invariantsOf(cell).indexOf(filters.invariant) < 0) {
      cls += " dim";
    }
    if (cell[0] === 0 || cell[0] === row.ops.length - 1) cls += " edge";
    return cls;
  }

  function quiet(cell) {
    return filters.failing && !failing(cell) && !(cell[4] & NEWLY_FIXED);
  }

  // Markup from numbers and fixed class names only: safe, and fast for 20,000 cells.
  function stripHtml(row) {
    var parts = [], start = -1, cells = row.cells;
    function flush(end) {
      if (start < 0) return;
      if (end - start >= COLLAPSE) {
        parts.push('<span class="gap" title="not failing">\u22ef ' + (end - start) + "</span>");
      } else {
        for (var k = start; k < end; k++) {
          parts.push('<i class="' + cellClass(row, cells[k]) + '" data-c="' + k + '"></i>');
        }
      }
      start = -1;
    }
    for (var i = 0; i < cells.length; i++) {
      if (quiet(cells[i])) { if (start < 0) start = i; continue; }
      flush(i);
      parts.push('<i class="' + cellClass(row, cells[i]) + '" data-c="' + i + '"></i>');
    }
    flush(cells.length);
    return parts.join("");
  }

  function windowsOf(row) {
    var windows = [], current = null;
    row.cells.forEach(function (cell, i) {
      var matches = failing(cell) &&
        (!filters.invariant || invariantsOf(cell).indexOf(filters.invariant) >= 0);
      var key = matches ? cell[2] + "|" + invariantsOf(cell).join(",") : null;
      if (key !== null && current && current.key === key && current.last === i - 1) {
        current.last = i;
        current.count += 1;
      } else if (key !== null) {
        current = { key: key, first: i, last: i, count: 1 };
        windows.push(current);
      } else {
        current = null;
      }
    });
    return windows;
  }

  // Windows that look alike (same code locations, same invariants: the same bug hit
  // again, say once per note synced) are listed once, with how many there are.
  function groupWindows(row, windows) {
    var groups = [], byKey = {};
    windows.forEach(function (w) {
      var sites = [];
      for (var i = w.first; i <= w.last; i++) {
        var op = opOf(row, row.cells[i]);
        sites.push(op[2] + "@" + op[3] + ":" + op[4]);
      }
      var key = w.key + "|" + sites.join(";");
      if (!byKey[key]) { byKey[key] = { first: w, windows: 0, points: 0 }; groups.push(byKey[key]); }
      byKey[key].windows += 1;
      byKey[key].points += w.count;
    });
    return groups;
  }

  function windowButton(row, group) {
    var w = group.first, first = row.cells[w.first], last = row.cells[w.last];
    var span = pointLabel(first[0], null) +
      (w.count > 1 ? "\u2013" + pointLabel(last[0], null) : "");
    var button = el("button", first[2]);
    button.type = "button";
    button.dataset.c = String(w.first);
    button.appendChild(el("span", "w-points", span));
    var ops = w.count > 1 ? "  (" + w.count + " operations)" : "";
    button.appendChild(el("span", "w-op", opLine(opOf(row, first)) + ops));
    if (group.windows > 1) {
      button.appendChild(el("span", "w-count", "\u00d7" + group.windows + " alike, " +
        group.points + " points"));
    }
    button.appendChild(el("span", "w-inv", invariantsOf(first).join(", ")));
    return button;
  }

  function drawWindows(r, list) {
    var row = DATA.rows[r], groups = groupWindows(row, windowsOf(row));
    list.textContent = "";
    groups.slice(0, WINDOWS_SHOWN).forEach(function (group) {
      var item = el("li", group.first.key.charAt(0));
      item.appendChild(windowButton(row, group));
      list.appendChild(item);
    });
    if (groups.length > WINDOWS_SHOWN) {
      list.appendChild(el("li", "more", "and " + (groups.length - WINDOWS_SHOWN) +
        " more windows (see the strip)"));
    }
  }

  function drawRow(r) {
    var key = filters.failing + "|" + filters.invariant;
    if (drawnWith[r] === key) return;
    drawnWith[r] = key;
    var node = rowEl(r), row = DATA.rows[r], strip = node.querySelector(".strip");
    strip.classList.toggle("dense", row.cells.length > DENSE);
    strip.innerHTML = stripHtml(row);
    drawWindows(r, node.querySelector(".windows"));
    if (selected && selected.row === r) markSelected();
  }

  // -- filters ----------------------------------------------------------------------

  function visible(r) {
    var row = DATA.rows[r], node = rowEl(r);
    if (filters.fault && node.dataset.fault !== filters.fault) return false;
    if (filters.invariant && row.invariants.indexOf(filters.invariant) < 0) return false;
    return !(filters.failing && !rowFails(row));
  }

  function apply() {
    var shown = 0;
    DATA.rows.forEach(function (row, r) {
      var show = visible(r);
      rowEl(r).hidden = !show;
      if (show) { drawRow(r); shown += 1; }
    });
    document.querySelectorAll(".summary tr[data-rows]").forEach(function (line) {
      line.hidden = !line.dataset.rows.split(" ").some(function (r) {
        return r !== "" && !rowEl(Number(r)).hidden;
      });
    });
    document.querySelectorAll("#points .scenario").forEach(function (article) {
      article.hidden = !article.querySelector(".row:not([hidden])");
    });
    document.getElementById("shown").textContent =
      "showing " + shown + " of " + DATA.rows.length + " variants";
    document.getElementById("none-shown").hidden = shown > 0 || DATA.rows.length === 0;
  }

  function readFilters() {
    filters.failing = document.getElementById("f-failing").checked;
    filters.fault = document.getElementById("f-fault").value;
    filters.invariant = document.getElementById("f-invariant").value;
    apply();
  }

  // -- one point's details ----------------------------------------------------------

  function diffBlock(text, cls) {
    var pre = el("pre", cls || "diff");
    pre.classList.add("diff");
    var lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    lines.forEach(function (line) {
      var cls = "";
      if (/^(\+\+\+ |--- |~~~ )/.test(line)) cls = "meta";
      else if (line.charAt(0) === "+") cls = "add";
      else if (line.charAt(0) === "-") cls = "del";
      else if (line.indexOf("@@") === 0) cls = "hunk";
      pre.appendChild(el("span", cls, line || " "));
    });
    return pre;
  }

  function findingBlock(finding, expected) {
    var box = el("div", "finding" + (expected ? " expected" : ""));
    box.appendChild(el("div", "inv-name", finding[0]));
    var message = S(finding[1]);
    box.appendChild(/\n@@ /.test(message) ? diffBlock(message, "msg") : el("pre", "msg", message));
    var diff = S(finding[2]);
    if (diff) box.appendChild(diffBlock(diff));
    return box;
  }

  function roundsTable(rounds) {
    var table = el("table", "rounds"), head = el("tr");
    ["round", "exit", "operations", "changed the world", "mutations", "duration"].forEach(
      function (name) { head.appendChild(el("th", null, name)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    rounds.forEach(function (round) {
      var tr = body.appendChild(el("tr"));
      tr.appendChild(el("td", "num", round[0]));
      tr.appendChild(el("td", round[1] === "ok" ? "" : "exit-bad", round[1]));
      tr.appendChild(el("td", "num", round[2]));
      tr.appendChild(el("td", null, round[4] ? "yes" : "no"));
      var list = el("ul");
      round[3].forEach(function (m) { list.appendChild(el("li", null, S(m))); });
      tr.appendChild(el("td")).appendChild(round[3].length ? list : el("span", "muted", "none"));
      tr.appendChild(el("td", "num", round[5] === null ? "" : Math.round(round[5] * 1000) + " ms"));
    });
    return table;
  }

  function copyText(text, button) {
    function done() {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }
    function fallback() {
      var area = el("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
      area.remove();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  function fact(dl, name, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", null, name));
    var dd = dl.appendChild(el("dd"));
    if (Array.isArray(value)) {
      var list = dd.appendChild(el("ol"));
      value.forEach(function (item) { list.appendChild(el("li", null, item)); });
    } else {
      dd.textContent = String(value);
    }
  }

  // The kept world of a failing point, as a link relative to the report's folder (the
  // href was percent-encoded when the page was made: it holds no scheme).
  function artifactsLink(detail) {
    if (!detail || !detail.artifacts) return null;
    var url = detail.artifactsHref;
    if (!url || url.indexOf(":") >= 0) return el("span", "mono", detail.artifacts);
    var link = el("a", "artifacts", detail.artifacts);
    link.setAttribute("href", url);
    return link;
  }

  // The point's facts: its operation, what the fault did there and, when it failed, the
  // operation's details (call stack...); ``run``: whether this failing run's own facts
  // (duration, artifacts) go here too, or below with its nested point.
  function facts(op, detail, injection, run) {
    var dl = el("dl");
    fact(dl, "operation", opText(op));
    fact(dl, "caller", op[2]);
    // A syscall point's "file" is its system call and has no line.
    fact(dl, "location", op[3] && op[3] !== "?" ? (op[4] ? op[3] + ":" + op[4] : op[3]) : "");
    fact(dl, "fault injected", injection);
    if (detail) {
      Object.keys(detail.opDetail).forEach(function (key) {
        var value = detail.opDetail[key];
        var shown = Array.isArray(value) ? value.map(String)
          : typeof value === "object" && value !== null ? JSON.stringify(value) : value;
        fact(dl, key === "stack" ? "call stack" : key, shown);
      });
    }
    if (detail && run) runFacts(dl, detail);
    return dl;
  }

  function runFacts(dl, detail) {
    fact(dl, "duration", detail.duration === null ? "" : Math.round(detail.duration * 1000) + " ms");
    var link = artifactsLink(detail);
    if (link) {
      dl.appendChild(el("dt", null, "artifacts"));
      dl.appendChild(el("dd")).appendChild(link);
    }
    if (detail.recheck) fact(dl, "re-checked", detail.recheck);
    return dl;
  }

  function section(box, title) { box.appendChild(el("h5", null, title)); }

  function failureParts(box, detail) {
    var source = S(detail.source);
    if (source) { section(box, "source line"); box.appendChild(el("pre", "src", source)); }
    section(box, "invariants that failed");
    detail.findings.forEach(function (f) { box.appendChild(findingBlock(f, detail.expected)); });
    section(box, "recovery, round by round");
    box.appendChild(detail.rounds.length ? roundsTable(detail.rounds)
      : el("p", "muted", "no restart round ran (the crash itself was the finding)"));
    section(box, "output of the children");
    var output = S(detail.output);
    box.appendChild(output ? el("pre", "out", output) : el("p", "muted", "no output"));
    if (detail.replay) {
      section(box, "replay this point");
      var line = box.appendChild(el("div", "replay"));
      line.appendChild(el("code", null, detail.replay));
      var button = line.appendChild(el("button", "copy", "Copy"));
      button.type = "button";
      button.addEventListener("click", function () { copyText(detail.replay, button); });
    }
  }

  // The crashes inside recovery one point was run with: one line each, failing ones
  // clickable (data-n: the entry's position) to show their details below.
  function nestedTable(cell, chosen) {
    var table = el("table", "nested"), head = el("tr");
    var kept = cell[1].some(function (e) { return e[2] >= 0 && DATA.details[e[2]].artifacts; });
    ["crash", "outcome", "invariants that failed"].concat(kept ? ["artifacts"] : []).forEach(
      function (name) { head.appendChild(el("th", null, name)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    cell[1].forEach(function (entry, n) {
      var tr = body.appendChild(el("tr", entry === chosen ? "chosen" : null));
      var label = pointLabel(cell[0], entry[0]);
      var first = tr.appendChild(el("td", "mono"));
      if (entry[2] >= 0) {
        var pick = first.appendChild(el("button", "pick " + entry[1], label));
        pick.type = "button";
        pick.dataset.n = String(n);
      } else {
        first.textContent = label;
      }
      tr.appendChild(el("td")).appendChild(el("span", "badge " + BADGE[entry[1]], STATUS[entry[1]]));
      tr.appendChild(el("td", "mono", findingsOf(entry[2]).join(", ")));
      if (!kept) return;
      var link = entry[2] >= 0 ? artifactsLink(DATA.details[entry[2]]) : null;
      var td = tr.appendChild(el("td", "mono"));
      if (link) td.appendChild(link);
    });
    return table;
  }

  function heading(r, cell, op) {
    var h = el("h4");
    h.appendChild(el("span", null, pointLabel(cell[0], null) + " " + opText(op)));
    h.appendChild(el("span", "badge " + BADGE[cell[2]], STATUS[cell[2]]));
    h.appendChild(el("span", "chip", rowEl(r).dataset.fault));
    if (cell[4] & NEWLY_FAILING) h.appendChild(el("span", "chip new", "newly failing"));
    if (cell[4] & NEWLY_FIXED) h.appendChild(el("span", "chip", "newly fixed"));
    if (cell[4] & UNCOVERED) h.appendChild(el("span", "chip warn", "uncovered by the journal"));
    if (cell[1]) {
      var failed = cell[1].filter(function (e) { return e[1] === "f" || e[1] === "x"; }).length;
      h.appendChild(el("span", "chip", cell[1].length + " crashes during recovery" +
        (failed ? ", " + failed + " failing" : "")));
    }
    return h;
  }

  function markSelected() {
    document.querySelectorAll(".c.sel").forEach(function (n) { n.classList.remove("sel"); });
    if (!selected) return;
    var node = rowEl(selected.row).querySelector('.c[data-c="' + selected.cell + '"]');
    if (node) node.classList.add("sel");
  }

  // One point's details; ``pick``: which of its nested points to detail (default: the
  // first failing one).
  function showPoint(r, i, pick) {
    var row = DATA.rows[r], cell = row.cells[i], op = opOf(row, cell);
    var chosen = null, detail = cell[3] >= 0 ? DATA.details[cell[3]] : null;
    if (cell[1]) {
      chosen = pick === undefined || !cell[1][pick]
        ? cell[1].find(function (e) { return e[2] >= 0; }) || null : cell[1][pick];
      detail = chosen && chosen[2] >= 0 ? DATA.details[chosen[2]] : null;
    }
    var box = rowEl(r).querySelector(".detail");
    box.textContent = "";
    var close = box.appendChild(el("button", "close", "\u00d7"));
    close.type = "button";
    close.title = "close";
    close.addEventListener("click", function () { box.hidden = true; selected = null; markSelected(); });
    box.appendChild(heading(r, cell, op));
    box.appendChild(facts(op, detail, cell[5] >= 0 ? S(cell[5]) : "", !cell[1]));
    if (cell[1]) {
      section(box, "crashed again inside recovery, at each of these points of the first restart");
      box.appendChild(nestedTable(cell, chosen));
      if (detail) {
        box.appendChild(el("h5", "nested-title",
          pointLabel(cell[0], chosen[0]) + ": " + STATUS[chosen[1]]));
        box.appendChild(runFacts(el("dl", "nested-facts"), detail));
      }
    }
    if (detail) failureParts(box, detail);
    else box.appendChild(el("p", "muted", cell[2] === "n"
      ? "Not run in this sweep (sampled out, another shard's, or interrupted): this point is untested."
      : cell[1] ? "Every crash during recovery recovered and every invariant held."
      : "Recovered and every invariant held: the world matched the golden run."));
    box.hidden = false;
    box.dataset.cell = String(i);
    selected = { row: r, cell: i };
    markSelected();
    var anchor = "r" + r + "-p" + cell[0] + (chosen && chosen[0] !== null ? "-n" + chosen[0] : "");
    if (history.replaceState) history.replaceState(null, "", "#" + anchor);
  }

  // -- tooltip ----------------------------------------------------------------------

  var tip = document.getElementById("tip");

  function showTip(node) {
    var r = +node.closest(".row").dataset.row, row = DATA.rows[r];
    var cell = row.cells[+node.dataset.c], op = opOf(row, cell);
    tip.textContent = "";
    tip.appendChild(el("div", "t-op", pointLabel(cell[0], null) + " " + opText(op)));
    if (where(op)) tip.appendChild(el("div", "t-where", where(op)));
    var invs = invariantsOf(cell);
    tip.appendChild(el("div", "t-status", STATUS[cell[2]] + (invs.length ? ": " + invs.join(", ") : "")));
    if (cell[1]) {
      var failed = cell[1].filter(function (e) { return e[1] === "f" || e[1] === "x"; }).length;
      tip.appendChild(el("div", "t-where", cell[1].length + " crashes during recovery, " +
        failed + " failing"));
    }
    tip.hidden = false;
    var box = node.getBoundingClientRect(), width = tip.offsetWidth;
    tip.style.left = Math.max(4, Math.min(box.left, window.innerWidth - width - 8)) + "px";
    var below = box.bottom + 8;
    tip.style.top = (below + tip.offsetHeight > window.innerHeight ? box.top - tip.offsetHeight - 8 : below) + "px";
  }

  // -- coverage ---------------------------------------------------------------------

  function fillMissing(details) {
    var list = details.querySelector(".missing-list");
    if (list.childElementCount) return;
    var row = DATA.rows[+details.dataset.row];
    row.cells.forEach(function (cell) {
      if (cell[2] !== "n") return;
      var item = el("li", null, pointLabel(cell[0], null) + " " + opLine(opOf(row, cell)));
      item.value = cell[0];
      list.appendChild(item);
    });
  }

  // -- wiring -----------------------------------------------------------------------

  function openHash() {
    var m = /^#r(\d+)-p(\d+)(?:-n(\d+))?$/.exec(location.hash);
    if (!m || !DATA.rows[+m[1]]) return;
    var r = +m[1], point = +m[2], nested = m[3] === undefined ? null : +m[3];
    var cells = DATA.rows[r].cells;
    var i = cells.findIndex(function (c) { return c[0] === point; });
    if (i < 0) return;
    var pick = cells[i][1] ? cells[i][1].findIndex(function (e) { return e[0] === nested; }) : -1;
    rowEl(r).hidden = false;
    rowEl(r).closest(".scenario").hidden = false;
    drawRow(r);
    showPoint(r, i, pick >= 0 ? pick : undefined);
    rowEl(r).querySelector(".detail").scrollIntoView({ block: "nearest" });
  }

  function wire() {
    var points = document.getElementById("points");
    points.addEventListener("click", function (event) {
      var pick = event.target.closest("[data-n]");
      if (pick) {
        var box = pick.closest(".detail");
        showPoint(+pick.closest(".row").dataset.row, +box.dataset.cell, +pick.dataset.n);
        return;
      }
      var target = event.target.closest("[data-c]");
      if (!target) return;
      showPoint(+target.closest(".row").dataset.row, +target.dataset.c);
    });
    points.addEventListener("mouseover", function (event) {
      var node = event.target.closest(".c[data-c]");
      if (node) showTip(node); else tip.hidden = true;
    });
    points.addEventListener("mouseleave", function () { tip.hidden = true; });
    ["f-failing", "f-fault", "f-invariant"].forEach(function (id) {
      document.getElementById(id).addEventListener("change", readFilters);
    });
    document.querySelectorAll("details.missing").forEach(function (details) {
      details.addEventListener("toggle", function () { if (details.open) fillMissing(details); });
    });
    window.addEventListener("hashchange", openHash);
  }

  wire();
  readFilters();
  openHash();
  document.documentElement.dataset.ready = "true";
  window.crashkitReady = performance.now();
})();
