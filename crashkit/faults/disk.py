"""A model of what a power cut leaves on disk, for the ``powerloss`` fault (issue 5).

A kill keeps the operating system's page cache: everything the program wrote
reaches the disk sooner or later. A power cut keeps only what was made durable.
A :class:`PowerLossModel` is told every file operation of the program, in order,
just before it runs (the probe's view). At the crash point,
:meth:`PowerLossModel.states` lists on-disk states a power cut could leave, and
:meth:`PowerCut.apply` rewrites the world into one of them.

The model's assumptions. They are close to ext4 with ``data=ordered`` but more
conservative: every state listed is allowed by them, and a real ext4 disk shows
only some of these states.

1. **File data** (write, pwrite, truncate, open with truncation) is durable
   once ``fsync`` or ``fdatasync`` runs on that file: the call makes every
   earlier write to the inode durable, whatever its name is now. Until then the
   data may be lost.
2. Unsynced writes to one file reach the disk **in the order they were issued,
   each whole or not at all**. After a power cut a file holds its durable
   content plus any in-order prefix of its unsynced writes. Torn writes are the
   ``torn`` fault's business. Real disks may also reorder writes to different
   pages of a file, which this model does not try.
3. **Folder entries** (create, rename/replace, unlink, mkdir, rmdir) are durable
   only after an ``fsync`` of the folder that holds them. An fsync of the file
   does not make its name durable: ext4 often does, but POSIX does not promise
   it. After a power cut a folder holds its durable entries plus any in-order
   prefix of its unsynced changes, each change whole. A rename within one
   folder is atomic. A rename across folders is one change in each folder, and
   each half becomes durable with its own folder's fsync, so the file may show
   up under both names or under neither.
4. **No order across inodes.** Nothing orders the data of one file against
   another file's data, or a file's data against any folder's entries. A rename
   can be durable while the renamed file's data is not: the new name then shows
   the file's last durable content (empty for a new file). That is the
   ``rename-without-fsync`` bug.
5. What existed before the run (the snapshot) is durable as it was. So is any
   name the model was never told changed: the model reads such a name from disk
   the first time an event touches it.
6. **SQLite databases are assumed durable at commit** (``synchronous=FULL``,
   rollback journal or WAL). Their files are left as the kill left them. These
   are the paths ``ignore`` accepts, by default ``*.db``, ``*.sqlite`` and
   ``*.sqlite3`` with their ``-journal``, ``-wal`` and ``-shm`` companions.
   Files the model never saw are left alone in the same way. Both kinds travel
   with their folder when the folder's rename is undone. A folder that holds
   them is kept where the kill left it even when its own entry was never made
   durable.
7. An event whose operation the OS will refuse changes nothing: unlink of a
   missing name, rmdir of a non-empty folder, mkdir over an existing name,
   rename onto an entry of the other kind. Writes are assumed to write all of
   their bytes. Symlinks and other special files are not modelled: events on
   them change nothing, and the model leaves them alone.

A folder can appear only once in a state. If the independent per-folder choices
of assumption 3 would place it twice, or inside itself, only its first place in
depth-first name order counts. A file placed twice is written twice.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import posixpath
import random
import shutil
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from crashkit.probes.quiet import quiet

__all__ = ["PowerCut", "PowerLossModel", "default_ignore"]

_ROOT = 0
#: What a lookup returns for a symlink or special file: the model does not manage it.
_OTHER = -1
_SQLITE_SUFFIXES = tuple(
    base + companion
    for base in (".db", ".sqlite", ".sqlite3")
    for companion in ("", "-journal", "-wal", "-shm")
)


def default_ignore(path: str) -> bool:
    """Whether ``path`` is an SQLite file, which the model leaves as the kill left it.

    Args:
        path: world-relative, e.g. ``"state/kasten.db-wal"``.
    """
    return path.endswith(_SQLITE_SUFFIXES)


# -- what the model remembers ----------------------------------------------------


@dataclass(frozen=True)
class _DataOp:
    """One unsynced write of ``data`` at ``offset``, or a truncation to ``offset`` bytes."""

    event: int
    label: str
    offset: int
    data: bytes | None = None  #: None for a truncation

    def apply_to(self, content: bytearray) -> None:
        if len(content) < self.offset:
            content.extend(bytes(self.offset - len(content)))
        if self.data is None:
            del content[self.offset :]
        else:
            content[self.offset : self.offset + len(self.data)] = self.data


@dataclass(frozen=True)
class _Change:
    """One unsynced change of a folder's entries: each name now names an inode, or nothing."""

    event: int
    label: str
    effects: tuple[tuple[str, int | None], ...]


@dataclass
class _File:
    durable: bytes
    pending: list[_DataOp] = field(default_factory=list)
    #: The size the program sees now, for writes at the current end.
    size: int = 0

    def content(self, keep: int | None = None) -> bytes:
        """The durable content with the first ``keep`` unsynced writes (all when None)."""
        buffer = bytearray(self.durable)
        for op in self.pending[:keep]:
            op.apply_to(buffer)
        return bytes(buffer)

    def sync(self) -> None:
        self.durable = self.content()
        self.pending.clear()


@dataclass
class _Folder:
    #: Every name the model knows, as the program sees it now (None: no such entry).
    entries: dict[str, int | None] = field(default_factory=dict)
    #: The same names at the last fsync of the folder.
    durable: dict[str, int | None] = field(default_factory=dict)
    pending: list[_Change] = field(default_factory=list)

    def entries_after(self, keep: int | None = None) -> dict[str, int | None]:
        """The durable entries with the first ``keep`` unsynced changes (all when None)."""
        entries = dict(self.durable)
        for change in self.pending[:keep]:
            entries.update(change.effects)
        return entries

    def learn(self, name: str, inode: int) -> None:
        """Record an entry found on disk: durable, since no event changed it (assumption 5)."""
        self.entries[name] = self.durable[name] = inode

    def record(self, change: _Change) -> None:
        for name, inode in change.effects:
            # A name the model never knew was looked up and missing: durably absent.
            self.durable.setdefault(name, None)
            self.entries[name] = inode
        self.pending.append(change)

    def sync(self) -> None:
        self.durable = dict(self.entries)
        self.pending.clear()


_Node = _File | _Folder


class _Where(NamedTuple):
    """Where an event's path leads: its folder, its name there, and what the name holds."""

    folder: int
    name: str
    child: int | None
    parts: tuple[str, ...]


# -- the model -------------------------------------------------------------------


class PowerLossModel:
    """Follows a program's file operations and builds the states a power cut could leave.

    Call each event before the real operation runs, with world-relative paths such
    as ``"local/notes.md"``. Inodes are tracked, not names, so data follows renames.
    An event the OS will refuse, or one on an ignored path, changes nothing.

    Args:
        root: the world; the model reads below it and never outside it.
        ignore: paths left as the kill left them (SQLite files by default); a path is
            ignored when ``ignore`` accepts it or any folder above it.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, ignore: Callable[[str], bool] = default_ignore
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.ignore = ignore
        self._nodes: dict[int, _Node] = {_ROOT: _Folder()}
        self._events = 0

    # -- events ------------------------------------------------------------------

    def create(self, path: str) -> None:
        """A new file is about to be created (an open with ``O_CREAT`` of a missing name).

        Raises:
            ValueError: ``path`` is not world-relative (and so for every event).
        """
        label = self._label("create", path)
        where = self._locate(path)
        if where is not None and where.child is None:
            self._link(where, self._add(_File(b"")), label)

    def write(self, path: str, offset: int | None, data: bytes) -> None:
        """``data`` is about to be written to the file at ``path``.

        Args:
            offset: where the write starts; None for the current end of the file (the
                model does not know a descriptor's position: pass it for positioned
                writes).
        """
        label = self._label("write", f"to {path}")
        file = self._file(path)
        if file is None or (offset is not None and offset < 0):
            return
        start = file.size if offset is None else offset
        label += f" ({len(data)} bytes at {start})"
        file.pending.append(_DataOp(self._events, label, start, bytes(data)))
        file.size = max(file.size, start + len(data))

    def truncate(self, path: str, size: int) -> None:
        """The file at ``path`` is about to be cut (or extended) to ``size`` bytes."""
        label = self._label("truncate", f"{path} to {size}")
        file = self._file(path)
        if file is not None and size >= 0:
            file.pending.append(_DataOp(self._events, label, size))
            file.size = size

    def rename(self, src: str, dst: str) -> None:
        """``src`` is about to be renamed to ``dst``, replacing what ``dst`` names."""
        label = self._label("rename", f"{src} -> {dst}")
        if self._ignored(dst):
            self._unlink_entry(src, label)
        elif self._ignored(src):
            self._adopt(src, dst, label)
        else:
            self._move(src, dst, label)

    def unlink(self, path: str) -> None:
        """The file at ``path`` is about to be removed."""
        self._unlink_entry(path, self._label("unlink", path))

    def mkdir(self, path: str) -> None:
        """A folder is about to be made at ``path``."""
        label = self._label("mkdir", path)
        where = self._locate(path)
        if where is not None and where.child is None:
            self._link(where, self._add(_Folder()), label)

    def rmdir(self, path: str) -> None:
        """The empty folder at ``path`` is about to be removed."""
        label = self._label("rmdir", path)
        where = self._locate(path)
        if where is not None and self._is_empty_folder(where):
            self._unlink(where, label)

    def fsync(self, path: str) -> None:
        """``fsync``/``fdatasync`` is about to run on the file or folder at ``path``.

        Args:
            path: a file or a folder; ``"."`` for the world's root.
        """
        self._label("fsync", path)
        parts = self._tracked(path)
        if parts == ():
            self._nodes[_ROOT].sync()
            return
        where = None if parts is None else self._walk(parts)
        if where is not None and where.child is not None:
            self._nodes[where.child].sync()

    def sync_all(self) -> None:
        """``sync``/``syncfs`` is about to run: everything written so far becomes durable."""
        self._label("sync", "everything")
        for node in self._nodes.values():
            node.sync()

    # -- states ------------------------------------------------------------------

    def states(self, limit: int = 8, seed: int = 0) -> list[PowerCut]:
        """The power-cut states to try, the harshest first (every unsynced change lost).

        When all the combinations fit in ``limit`` they are all listed; otherwise the
        rest is a sample, the same for the same ``seed``. Each combination keeps an
        in-order prefix of each file's unsynced writes and of each folder's unsynced
        entry changes.

        Args:
            limit: at most this many states.
            seed: picks the sample.

        Raises:
            ValueError: ``limit`` is below 1.
        """
        if limit < 1:
            raise ValueError(f"states(limit={limit}): limit must be at least 1, e.g. limit=8")
        nodes = copy.deepcopy(self._nodes)
        sizes = {inode: len(node.pending) for inode, node in sorted(nodes.items()) if node.pending}
        return [_power_cut(nodes, keep) for keep in _choices(sizes, limit, seed)]

    # -- lookups -----------------------------------------------------------------

    def _label(self, kind: str, text: str) -> str:
        self._events += 1
        return f"{kind} #{self._events} {text}"

    def _tracked(self, path: str) -> tuple[str, ...] | None:
        """The path's parts, or None when it or a folder above it is ignored."""
        parts = _parts(path)
        prefixes = ("/".join(parts[:end]) for end in range(1, len(parts) + 1))
        return None if any(self.ignore(p) for p in prefixes) else parts

    def _ignored(self, path: str) -> bool:
        return self._tracked(path) is None

    def _locate(self, path: str) -> _Where | None:
        """Where a path leads, or None when the model does not follow it."""
        parts = self._tracked(path)
        return None if not parts else self._walk(parts)

    def _walk(self, parts: tuple[str, ...]) -> _Where | None:
        folder = _ROOT
        for end in range(1, len(parts)):
            inode = self._child(folder, parts[:end])
            if inode is None or not isinstance(self._nodes.get(inode), _Folder):
                return None
            folder = inode
        child = self._child(folder, parts)
        return None if child == _OTHER else _Where(folder, parts[-1], child, parts)

    def _child(self, folder: int, parts: tuple[str, ...]) -> int | None:
        """What ``parts[-1]`` names in ``folder``, read from disk the first time."""
        node = self._nodes[folder]
        assert isinstance(node, _Folder)
        if parts[-1] in node.entries:
            return node.entries[parts[-1]]
        inode = self._discover(os.path.join(self.root, *parts))
        if inode is not None and inode != _OTHER:
            node.learn(parts[-1], inode)
        return inode

    def _discover(self, real: str) -> int | None:
        try:
            mode = os.lstat(real).st_mode
        except OSError:
            return None
        if stat.S_ISDIR(mode):
            return self._add(_Folder())
        if not stat.S_ISREG(mode):
            return _OTHER
        with open(real, "rb") as handle:
            data = handle.read()
        return self._add(_File(data, size=len(data)))

    def _add(self, node: _Node) -> int:
        inode = len(self._nodes)
        self._nodes[inode] = node
        return inode

    def _file(self, path: str) -> _File | None:
        where = self._locate(path)
        node = None if where is None or where.child is None else self._nodes[where.child]
        return node if isinstance(node, _File) else None

    def _is_empty_folder(self, where: _Where) -> bool:
        if where.child is None or not isinstance(self._nodes[where.child], _Folder):
            return False
        try:
            return not os.listdir(os.path.join(self.root, *where.parts))
        except OSError:
            return False

    # -- entry changes -----------------------------------------------------------

    def _link(self, where: _Where, inode: int | None, label: str) -> None:
        folder = self._nodes[where.folder]
        assert isinstance(folder, _Folder)
        folder.record(_Change(self._events, label, ((where.name, inode),)))

    def _unlink(self, where: _Where, label: str) -> None:
        self._link(where, None, label)

    def _unlink_entry(self, path: str, label: str) -> None:
        where = self._locate(path)
        file = None if where is None or where.child is None else self._nodes[where.child]
        if where is not None and isinstance(file, _File):
            self._unlink(where, label)

    def _move(self, src: str, dst: str, label: str) -> None:
        source, dest = self._locate(src), self._locate(dst)
        if source is None or dest is None or not self._can_move(source, dest):
            return
        if source.folder == dest.folder:
            effects = ((source.name, None), (dest.name, source.child))
            folder = self._nodes[source.folder]
            assert isinstance(folder, _Folder)
            folder.record(_Change(self._events, label, effects))
            return
        self._unlink(source, f"{label} [old name]")
        self._link(dest, source.child, f"{label} [new name]")

    def _can_move(self, source: _Where, dest: _Where) -> bool:
        """Whether the OS will perform this rename (renaming a name onto itself does nothing)."""
        if source.child is None or source.child == dest.child:
            return False
        if isinstance(self._nodes[source.child], _File):
            return dest.child is None or isinstance(self._nodes[dest.child], _File)
        inside = dest.parts[: len(source.parts)] == source.parts
        return not inside and (dest.child is None or self._is_empty_folder(dest))

    def _adopt(self, src: str, dst: str, label: str) -> None:
        """A rename from an ignored name: its content, durable by assumption 6, becomes a file."""
        dest = self._locate(dst)
        parts = _parts(src)
        real = os.path.join(self.root, *parts)
        if dest is None or not parts or not os.path.isfile(real) or os.path.islink(real):
            return
        if dest.child is not None and not isinstance(self._nodes[dest.child], _File):
            return
        with open(real, "rb") as handle:
            data = handle.read()
        self._link(dest, self._add(_File(data, size=len(data))), label)


def _parts(path: str) -> tuple[str, ...]:
    """The components of a world-relative path (``()`` for the root).

    Raises:
        ValueError: the path is absolute or climbs out of the world.
    """
    normal = posixpath.normpath(path.replace(os.sep, "/"))
    if normal.startswith("/") or normal == ".." or normal.startswith("../"):
        raise ValueError(
            f"{path!r} is not inside the world: pass a world-relative path such as "
            "'local/notes.md', and leave out operations that cross the world's boundary"
        )
    return () if normal == "." else tuple(normal.split("/"))


# -- choosing states -------------------------------------------------------------


def _choices(sizes: Mapping[int, int], limit: int, seed: int) -> list[dict[int, int]]:
    """How many unsynced items each inode keeps, per state; all zero first."""
    counts = list(sizes.values())
    if math.prod(n + 1 for n in counts) <= limit:
        combos: Iterable[tuple[int, ...]] = itertools.product(*(range(n + 1) for n in counts))
    else:
        combos = _sample(counts, limit, random.Random(seed))
    return [dict(zip(sizes, combo, strict=True)) for combo in combos]


def _sample(counts: list[int], limit: int, rng: random.Random) -> list[tuple[int, ...]]:
    chosen = {tuple(0 for _ in counts): None}
    for _ in range(limit * 50):
        if len(chosen) == limit:
            break
        chosen.setdefault(tuple(_pick(n, rng) for n in counts), None)
    return list(chosen)


def _pick(n: int, rng: random.Random) -> int:
    """How many of ``n`` unsynced items to keep: none, all, or any, a third of the time each."""
    roll = rng.random()
    if roll < 1 / 3:
        return 0
    return n if roll < 2 / 3 else rng.randint(0, n)


def _power_cut(nodes: Mapping[int, _Node], keep: Mapping[int, int]) -> PowerCut:
    kept: list[tuple[int, str]] = []
    lost: list[tuple[int, str]] = []
    for inode, node in nodes.items():
        items = [(item.event, item.label) for item in node.pending]
        kept += items[: keep.get(inode, 0)]
        lost += items[keep.get(inode, 0) :]
    kept_labels = tuple(label for _, label in sorted(kept))
    lost_labels = tuple(label for _, label in sorted(lost))
    return PowerCut(_describe(kept_labels, lost_labels), kept_labels, lost_labels, nodes, keep)


def _describe(kept: tuple[str, ...], lost: tuple[str, ...]) -> str:
    if not lost:
        return "nothing unsynced lost" if kept else "nothing unsynced: the state the kill left"
    if not kept:
        return "all unsynced changes lost: " + ", ".join(lost)
    return f"kept: {', '.join(kept)}; lost: {', '.join(lost)}"


@dataclass(frozen=True)
class PowerCut:
    """One state a power cut could leave, as :meth:`PowerLossModel.states` chose it."""

    #: What survived and what did not, e.g. ``"kept: write #2 to a.md ...; lost: ..."``.
    description: str
    #: The unsynced operations this state keeps, in the order they happened.
    kept: tuple[str, ...]
    #: The unsynced operations this state loses, in the order they happened.
    lost: tuple[str, ...]
    _nodes: Mapping[int, _Node] = field(repr=False, compare=False)
    _keep: Mapping[int, int] = field(repr=False, compare=False)

    def apply(self, root: str | os.PathLike[str]) -> None:
        """Rewrite the files under ``root`` into this state.

        ``root`` must hold the state the kill left (the world the model followed, or a
        copy of it). Only names the model followed change; ignored files and files the
        model never saw stay as they are (assumption 6). Nothing outside ``root`` is
        touched, and the probe does not see these writes.

        Args:
            root: the world to rewrite.
        """
        with quiet():
            _Materializer(os.path.abspath(os.fspath(root)), self._nodes, self._keep).run()


# -- materializing a state -------------------------------------------------------


@dataclass
class _Tree:
    """A tree of folders: each placed folder's existing entries and its path."""

    folders: dict[int, dict[str, int]] = field(default_factory=dict)
    paths: dict[int, tuple[str, ...]] = field(default_factory=dict)


_Entries = Callable[[int], Mapping[str, int | None]]


def _tree(nodes: Mapping[int, _Node], entries_of: _Entries) -> _Tree:
    tree = _Tree()
    _place(tree, nodes, entries_of, _ROOT, ())
    return tree


def _place(
    tree: _Tree,
    nodes: Mapping[int, _Node],
    entries_of: _Entries,
    folder: int,
    path: tuple[str, ...],
) -> None:
    """Place ``folder`` at ``path`` and what it holds below it; a folder goes only once."""
    tree.paths[folder] = path
    placed = tree.folders[folder] = {}
    for name, child in sorted(entries_of(folder).items()):
        if child is None or child in tree.paths:
            continue
        placed[name] = child
        if isinstance(nodes[child], _Folder):
            _place(tree, nodes, entries_of, child, (*path, name))


class _Materializer:
    """Turns the disk from the state the kill left (current) into a power-cut state (target).

    Two passes: the first walks the current tree and moves every folder whose place
    changes into a staging folder inside the root (taking along what it holds that
    the model does not manage) and removes every file whose place changes; the
    second walks the target tree and puts folders and files in their places.
    """

    def __init__(self, root: str, nodes: Mapping[int, _Node], keep: Mapping[int, int]) -> None:
        self.root = root
        self.nodes = nodes
        self.keep = keep
        self.overrides: dict[int, dict[str, int | None]] = {}
        self.current = _tree(nodes, self._current_entries)
        self.target = self._pinned_target()
        self.staging = ""
        self._contents: dict[int, bytes] = {}

    def run(self) -> None:
        self.staging = _fresh_name(self.root)
        os.mkdir(self.staging)
        self._detach(_ROOT, self.root)
        self._attach(_ROOT, self.root)
        shutil.rmtree(self.staging)  # only emptied folders remain in it

    # -- the two trees -----------------------------------------------------------

    def _folder(self, inode: int) -> _Folder:
        node = self.nodes[inode]
        assert isinstance(node, _Folder)
        return node

    def _current_entries(self, inode: int) -> Mapping[str, int | None]:
        return self._folder(inode).entries

    def _target_entries(self, inode: int) -> Mapping[str, int | None]:
        entries = self._folder(inode).entries_after(self.keep.get(inode, 0))
        entries.update(self.overrides.get(inode, {}))
        return entries

    def _pinned_target(self) -> _Tree:
        """The target tree, with every folder that holds unmanaged entries kept in place."""
        for _ in range(len(self.nodes) + 1):  # each round pins at least one more folder
            target = _tree(self.nodes, self._target_entries)
            gone = [f for f in self.current.paths if f not in target.paths]
            pins = [f for f in gone if self._holds_unmanaged(f)]
            if not pins:
                return target
            for folder in pins:
                self._pin(folder)
        raise AssertionError("pinning folders did not settle")  # pragma: no cover

    def _holds_unmanaged(self, folder: int) -> bool:
        real = os.path.join(self.root, *self.current.paths[folder])
        try:
            names = os.listdir(real)
        except OSError:
            return False
        return any(name not in self.current.folders[folder] for name in names)

    def _pin(self, folder: int) -> None:
        """Keep ``folder`` and the folders above it where the kill left them."""
        parent = _ROOT
        for name in self.current.paths[folder]:
            child = self.current.folders[parent][name]
            self._unplace(child)
            self.overrides.setdefault(parent, {})[name] = child
            parent = child

    def _unplace(self, child: int) -> None:
        """Remove ``child`` from every place the target gives it."""
        for inode, node in self.nodes.items():
            if isinstance(node, _Folder):
                for name, value in self._target_entries(inode).items():
                    if value == child:
                        self.overrides.setdefault(inode, {})[name] = None

    def _content(self, inode: int, keep: int | None) -> bytes:
        node = self.nodes[inode]
        assert isinstance(node, _File)
        return node.content(keep)

    def _target_content(self, inode: int) -> bytes:
        if inode not in self._contents:
            self._contents[inode] = self._content(inode, self.keep.get(inode, 0))
        return self._contents[inode]

    # -- the two passes ----------------------------------------------------------

    def _detach(self, folder: int, real: str) -> None:
        """Take out of ``folder`` every entry whose place differs in the target."""
        target = self.target.folders.get(folder, {})
        for name, child in sorted(self.current.folders[folder].items()):
            path = os.path.join(real, name)
            if not os.path.lexists(path):
                continue
            is_folder = isinstance(self.nodes[child], _Folder)
            if target.get(name) != child and is_folder:
                staged = os.path.join(self.staging, str(child))
                os.rename(path, staged)
                path = staged
            elif target.get(name) != child:
                os.unlink(path)
            if is_folder:
                self._detach(child, path)

    def _attach(self, folder: int, real: str) -> None:
        """Put into ``folder`` every entry the target gives it."""
        current = self.current.folders.get(folder, {})
        for name, child in sorted(self.target.folders[folder].items()):
            path = os.path.join(real, name)
            here = current.get(name) == child
            if isinstance(self.nodes[child], _Folder):
                if here or self._put_folder(child, path):
                    self._attach(child, path)
            elif self._needs_write(child, path, here):
                _write_file(path, self._target_content(child))

    def _needs_write(self, file: int, path: str, here: bool) -> bool:
        """Whether to write ``file`` at ``path``; an unmanaged entry there is left alone."""
        if here:
            return self._target_content(file) != self._content(file, None)
        return not os.path.lexists(path)

    def _put_folder(self, folder: int, path: str) -> bool:
        """Move a staged folder to ``path``, or make it; False if an unmanaged entry is there."""
        if os.path.lexists(path):
            return False
        staged = os.path.join(self.staging, str(folder))
        if os.path.lexists(staged):
            os.rename(staged, path)
        else:
            os.mkdir(path)
        return True


def _fresh_name(root: str) -> str:
    for n in itertools.count():  # pragma: no branch
        path = os.path.join(root, f".crashkit-powerloss-{n}")
        if not os.path.lexists(path):
            return path
    raise AssertionError("unreachable")  # pragma: no cover


def _write_file(path: str, data: bytes) -> None:
    if os.path.islink(path):  # never write through a link, which may lead out of the world
        os.unlink(path)
    with open(path, "wb") as handle:
        handle.write(data)
