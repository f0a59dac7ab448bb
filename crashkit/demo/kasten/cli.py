"""The ``crashkit-kasten`` command (or ``python -m crashkit.demo.kasten``): init a folder,
link notes to pages, sync, show status.

Exit status: 0 done; 1 the remote or the system failed (the journal keeps any
unfinished operation, so running ``sync`` again resumes it), or a note was
skipped; 2 bad input (the message names the problem and the fix).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .engine import Engine, SyncReport, init, link
from .errors import KastenError, RemoteError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``crashkit-kasten`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except RemoteError as error:
        return _fail(error, EXIT_FAILED)
    except KastenError as error:
        return _fail(error, EXIT_USAGE)
    except (OSError, sqlite3.Error) as error:
        return _fail(f"{error}", EXIT_FAILED)


def _parser() -> argparse.ArgumentParser:
    # A declarative table of the commands and their options.
    parser = argparse.ArgumentParser(
        prog="crashkit-kasten",
        description="Keep a folder of markdown notes in sync with Notion pages.",
    )
    parser.add_argument(
        "--dir", type=Path, default=Path("."), help="the synced folder (default: .)"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    init_ = commands.add_parser("init", help="make --dir a kasten folder")
    init_.add_argument("--remote", required=True, help="API base URL, e.g. https://api.notion.com")
    init_.add_argument("--token", required=True, help="the integration's token")
    init_.add_argument("--parent", help="a page id to keep for reference (optional)")
    init_.set_defaults(command=_init)

    link_ = commands.add_parser("link", help="link a note to a Notion page")
    link_.add_argument("file", help="the note, relative to --dir (may be empty or missing)")
    link_.add_argument("page_id", help="the page's id or URL")
    link_.set_defaults(command=_link)

    sync = commands.add_parser("sync", help="run one sync cycle")
    sync.set_defaults(command=_sync)

    status = commands.add_parser("status", help="show notes, unfinished operations, conflicts")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(command=_status)
    return parser


def _init(args: argparse.Namespace) -> int:
    init(args.dir, remote=args.remote, token=args.token, parent=args.parent)
    print(f"initialized {args.dir} (remote {args.remote})")
    print(f"next: crashkit-kasten --dir {args.dir} link FILE PAGE_ID")
    return EXIT_OK


def _link(args: argparse.Namespace) -> int:
    link(args.dir, args.file, args.page_id)
    print(f"linked {args.file} to page {args.page_id}")
    print(f"next: crashkit-kasten --dir {args.dir} sync")
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    with Engine.open(args.dir) as engine:
        report = engine.sync()
    for line in _summary(report):
        print(line)
    return EXIT_FAILED if report.skipped else EXIT_OK


def _summary(report: SyncReport) -> list[str]:
    lines = [f"recovered {report.recovered} unfinished operation(s)"] if report.recovered else []
    for label, paths in (
        ("pushed", report.pushed),
        ("pulled", report.pulled),
        ("merged", report.merged),
        ("conflict, local kept", report.conflicts),
        ("already in step", report.adopted),
        ("deleted (page archived)", report.deleted),
        ("purged", report.purged),
        ("untracked (crashkit-kasten link FILE PAGE_ID)", report.untracked),
    ):
        if paths:
            lines.append(f"{label}: {', '.join(paths)}")
    lines.extend(f"skipped {path}: {why}" for path, why in report.skipped.items())
    return lines or ["nothing to do"]


def _status(args: argparse.Namespace) -> int:
    with Engine.open(args.dir) as engine:
        status = engine.status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        for line in _status_lines(status):
            print(line)
    return EXIT_OK


def _status_lines(status: dict[str, Any]) -> list[str]:
    lines = [f"{status['dir']} <-> {status['remote']}"]
    if status["bugs"]:
        lines.append(f"seeded bugs ON: {', '.join(status['bugs'])}")
    for entity in status["entities"]:
        mark = f"  [conflict: {entity['conflict']}]" if entity["conflict"] else ""
        lines.append(f"  {entity['state']:<9} {entity['path']} -> {entity['page_id']}{mark}")
    for entry in status["pending"]:
        where = entry["path"] or f"entity gone, entry {entry['id']}"
        lines.append(f"  unfinished {entry['operation']} ({entry['state']}): {where}")
    lines.extend(f"  untracked {path}" for path in status["untracked"])
    if len(lines) == 1:
        lines.append("  no notes linked yet: crashkit-kasten link FILE PAGE_ID")
    last = status.get("last_change")
    if last:
        lines.append(f"  last change: sync #{last['syncs']}, finished {last['finished_at']}")
    return lines


def _fail(error: KastenError | str, status: int) -> int:
    print(f"kasten: error: {error}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
