"""The power-loss model leaves on disk what a power cut would, under its stated assumptions.

Each test plays a program's file operations on a fake disk (pyfakefs), telling the
model about each one first as the probe does, then applies the model's states and
reads the disk back.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crashkit.faults.disk import PowerCut, PowerLossModel, default_ignore

WORLD = Path("/world")


class Program:
    """Performs file operations in the world, telling the model about each one first."""

    def __init__(self, model: PowerLossModel) -> None:
        self.model = model

    def create(self, path: str) -> None:
        self.model.create(path)
        (WORLD / path).touch()

    def write(self, path: str, data: bytes, offset: int | None = None) -> None:
        self.model.write(path, offset, data)
        with open(WORLD / path, "ab" if offset is None else "r+b") as handle:
            if offset is not None:
                handle.seek(offset)
            handle.write(data)

    def put(self, path: str, data: bytes) -> None:
        """A new file with ``data`` in it (open with ``O_CREAT``, then one write)."""
        self.create(path)
        self.write(path, data)

    def truncate(self, path: str, size: int) -> None:
        self.model.truncate(path, size)
        with open(WORLD / path, "r+b") as handle:  # pyfakefs's os.truncate does not extend
            handle.truncate(size)

    def rename(self, src: str, dst: str) -> None:
        self.model.rename(src, dst)
        os.replace(WORLD / src, WORLD / dst)

    def unlink(self, path: str) -> None:
        self.model.unlink(path)
        os.unlink(WORLD / path)

    def mkdir(self, path: str) -> None:
        self.model.mkdir(path)
        os.mkdir(WORLD / path)

    def rmdir(self, path: str) -> None:
        self.model.rmdir(path)
        os.rmdir(WORLD / path)

    def fsync(self, path: str) -> None:
        self.model.fsync(path)


def snapshot(root: Path = WORLD) -> dict[str, bytes | None]:
    """Every entry below ``root``: a file's bytes, or None for a folder."""
    found: dict[str, bytes | None] = {}
    for folder, names, files in os.walk(root):
        base = Path(folder).relative_to(root)
        found.update({(base / n).as_posix(): None for n in names})
        found.update({(base / n).as_posix(): (Path(folder) / n).read_bytes() for n in files})
    return found


def restore(state: dict[str, bytes | None], root: Path = WORLD) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for path, data in sorted(state.items()):
        if data is None:
            (root / path).mkdir()
        else:
            (root / path).write_bytes(data)


def outcomes(model: PowerLossModel, limit: int = 8) -> list[dict[str, bytes | None]]:
    """The disk after each state the model offers, each applied to the state the kill left."""
    crashed = snapshot()
    results = []
    for cut in model.states(limit):
        restore(crashed)
        cut.apply(WORLD)
        results.append(snapshot())
    restore(crashed)
    return results


def harshest(model: PowerLossModel) -> dict[str, bytes | None]:
    return outcomes(model, limit=1)[0]


@pytest.fixture
def world(fs):
    WORLD.mkdir()
    (WORLD / "a.md").write_bytes(b"old")
    return WORLD


@pytest.fixture
def model(world):
    return PowerLossModel(world)


@pytest.fixture
def program(model):
    return Program(model)


# -- file data -------------------------------------------------------------------


def test_a_write_without_fsync_is_lost(model, program):
    program.truncate("a.md", 0)
    program.write("a.md", b"new")
    assert harshest(model) == {"a.md": b"old"}


def test_a_write_then_fsync_is_kept_in_every_state(model, program):
    program.truncate("a.md", 0)
    program.write("a.md", b"new")
    program.fsync("a.md")
    assert outcomes(model) == [{"a.md": b"new"}]


def test_unsynced_writes_survive_as_in_order_prefixes(model, program):
    program.write("a.md", b"-1")
    program.write("a.md", b"-2", offset=1)
    states = model.states()
    assert [cut.kept for cut in states] == [
        (),
        ("write #1 to a.md (2 bytes at 3)",),
        ("write #1 to a.md (2 bytes at 3)", "write #2 to a.md (2 bytes at 1)"),
    ]
    assert [s["a.md"] for s in outcomes(model)] == [b"old", b"old-1", b"o-2-1"]


def test_writes_past_the_end_and_growing_truncations_fill_with_zeros(model, program):
    program.write("a.md", b"x", offset=5)
    program.truncate("a.md", 8)
    program.fsync("a.md")
    assert outcomes(model) == [{"a.md": b"old\0\0x\0\0"}]


# -- folder entries --------------------------------------------------------------


def test_a_new_file_vanishes_when_nothing_was_synced(model, program):
    program.put("b.md", b"new")
    assert harshest(model) == {"a.md": b"old"}


def test_a_new_file_synced_but_not_its_folder_is_absent(model, program):
    program.put("b.md", b"new")
    program.fsync("b.md")
    assert outcomes(model) == [{"a.md": b"old"}, {"a.md": b"old", "b.md": b"new"}]


def test_a_folder_fsync_makes_a_new_synced_file_durable(model, program):
    program.put("b.md", b"new")
    program.fsync("b.md")
    program.fsync(".")
    assert outcomes(model) == [{"a.md": b"old", "b.md": b"new"}]


def test_a_rename_without_a_folder_fsync_is_undone(model, program):
    program.put("a.tmp", b"new")
    program.fsync("a.tmp")
    program.fsync(".")
    program.rename("a.tmp", "a.md")
    assert harshest(model) == {"a.md": b"old", "a.tmp": b"new"}


def test_a_rename_synced_before_its_data_shows_the_lost_data(model, program):
    """The ``rename-without-fsync`` bug: the folder is synced, the new file is not."""
    program.put("a.tmp", b"new")
    program.rename("a.tmp", "a.md")
    program.fsync(".")
    states = model.states()
    assert states[0].description == "all unsynced changes lost: write #2 to a.tmp (3 bytes at 0)"
    assert outcomes(model) == [{"a.md": b""}, {"a.md": b"new"}]


def test_the_full_atomic_write_protocol_survives_every_state(model, program):
    program.mkdir("local")
    program.fsync(".")
    program.put("local/.n.tmp", b"new")
    program.fsync("local/.n.tmp")
    program.rename("local/.n.tmp", "local/n.md")
    program.fsync("local")
    assert outcomes(model) == [{"a.md": b"old", "local": None, "local/n.md": b"new"}]


def test_data_follows_its_inode_across_a_rename(model, program):
    program.put("a.tmp", b"new")
    program.rename("a.tmp", "a.md")
    program.fsync("a.md")  # the descriptor's path is the new name by now
    program.fsync(".")
    assert outcomes(model) == [{"a.md": b"new"}]


def test_an_unlink_without_a_folder_fsync_comes_back(model, program):
    program.unlink("a.md")
    assert outcomes(model) == [{"a.md": b"old"}, {}]
    program.fsync(".")
    assert outcomes(model) == [{}]


def test_a_new_folder_needs_its_parent_synced(model, program):
    program.mkdir("notes")
    program.put("notes/n.md", b"new")
    program.fsync("notes/n.md")
    program.fsync("notes")
    assert harshest(model) == {"a.md": b"old"}
    program.fsync(".")
    assert outcomes(model) == [{"a.md": b"old", "notes": None, "notes/n.md": b"new"}]


def test_an_undone_folder_rename_takes_back_the_files_the_model_never_saw(world, model, program):
    (world / "notes").mkdir()
    (world / "notes" / "n.md").write_bytes(b"note")
    program.rename("notes", "archive")
    assert harshest(model) == {"a.md": b"old", "notes": None, "notes/n.md": b"note"}


def test_an_rmdir_without_a_folder_fsync_comes_back(world, model, program):
    (world / "empty").mkdir()
    program.rmdir("empty")
    assert harshest(model) == {"a.md": b"old", "empty": None}


def test_a_rename_across_folders_is_durable_in_each_folder_on_its_own(world, model, program):
    (world / "x").mkdir()
    (world / "y").mkdir()
    program.rename("a.md", "x/a.md")
    program.fsync("x")
    assert harshest(model)["a.md"] == harshest(model)["x/a.md"] == b"old"
    program.rename("x/a.md", "y/a.md")
    program.fsync("x")
    assert "x/a.md" not in harshest(model) and "y/a.md" not in harshest(model)


def test_a_folder_the_per_folder_choices_would_nest_in_itself_is_placed_once(world, program):
    (world / "p" / "q").mkdir(parents=True)
    program.rename("p/q", "q")
    program.rename("p", "q/p")
    program.fsync("q")  # durable: q holds p; lost: q left p, p left the root
    assert harshest(program.model) == {"a.md": b"old", "p": None, "p/q": None}


def test_operations_the_os_refuses_change_nothing(world, model):
    (world / "full").mkdir()
    (world / "full" / "f").write_bytes(b"f")
    (world / "empty").mkdir()
    model.unlink("missing.md")
    model.unlink("empty")
    model.rmdir("full")
    model.rmdir("a.md")
    model.mkdir("a.md")
    model.create("a.md")
    model.rename("missing.md", "a.md")
    model.rename("a.md", "a.md")
    model.rename("a.md", "empty")
    model.rename("empty", "a.md")
    model.rename("empty", "full")
    model.rename("full", "full/inside")
    model.write("missing.md", None, b"x")
    cut = model.states()[0]
    assert (len(model.states()), cut.description) == (
        1,
        "nothing unsynced: the state the kill left",
    )
    assert outcomes(model) == [snapshot()]


# -- what the model leaves alone -------------------------------------------------


def test_sqlite_files_are_left_as_the_kill_left_them(world, model, program):
    (world / "state.db").write_bytes(b"committed")
    model.write("state.db", 0, b"ignored")
    program.truncate("a.md", 0)
    (world / "state.db-wal").write_bytes(b"wal")
    assert harshest(model) == {"a.md": b"old", "state.db": b"committed", "state.db-wal": b"wal"}


def test_renames_into_and_out_of_ignored_names(world, model, program):
    program.rename("a.md", "old.db")
    assert harshest(model) == {"a.md": b"old", "old.db": b"old"}
    (world / "new.db").write_bytes(b"committed")
    program.rename("new.db", "b.md")
    program.fsync(".")
    assert outcomes(model) == [{"b.md": b"committed", "old.db": b"old"}]


def test_a_new_folder_holding_a_database_is_kept_where_the_kill_left_it(world, model, program):
    program.mkdir("state")
    program.put("state/cursor", b"1")
    (world / "state" / "app.db").write_bytes(b"committed")  # SQLite's writes: no events
    assert harshest(model) == {"a.md": b"old", "state": None, "state/app.db": b"committed"}


def test_a_custom_ignore_leaves_a_whole_folder_alone(world):
    model = PowerLossModel(world, ignore=lambda path: path == "cache")
    program = Program(model)
    program.mkdir("cache")
    program.put("cache/c", b"c")
    program.put("b.md", b"b")
    assert harshest(model) == {"a.md": b"old", "cache": None, "cache/c": b"c"}


def test_files_the_model_never_saw_are_left_alone(world, model, program):
    (world / "other.txt").write_bytes(b"changed behind the probe's back")
    program.put("b.md", b"new")
    assert harshest(model) == {"a.md": b"old", "other.txt": b"changed behind the probe's back"}


def test_nothing_outside_the_world_is_read_or_touched(world, model, program):
    outside = Path("/outside.md")
    outside.write_bytes(b"outside")
    (world / "link.md").symlink_to(outside)
    for path in ("../outside.md", "/outside.md"):
        with pytest.raises(ValueError, match="not inside the world"):
            model.write(path, 0, b"x")
    model.write("link.md", 0, b"x")  # links are not modelled
    program.unlink("a.md")
    for cut in model.states():
        cut.apply(world)
    assert outside.read_bytes() == b"outside"
    assert os.readlink(world / "link.md") == str(outside)


def test_the_default_ignore_names_sqlite_files_only():
    assert all(map(default_ignore, ["a.db", "s/a.db-wal", "a.sqlite-journal", "a.sqlite3-shm"]))
    assert not any(map(default_ignore, ["a.md", "db", "a.db.md"]))


# -- the states offered ----------------------------------------------------------


def test_states_are_bounded_deterministic_and_harshest_first(model, program):
    for name in "bcdef":
        program.put(f"{name}.md", b"12")
        program.write(f"{name}.md", b"34")
    states = model.states(limit=5, seed=3)
    assert len(states) == 5 and len(set(states)) == 5
    assert states == model.states(limit=5, seed=3)
    assert states[0].kept == () and states[0].description.startswith("all unsynced changes lost")
    assert {tuple(model.states(limit=5, seed=s)) for s in range(4)} != {tuple(states)}


def test_a_limit_below_one_is_refused(model):
    with pytest.raises(ValueError, match="at least 1"):
        model.states(limit=0)


def test_a_state_pickles_and_applies_to_a_copy_of_the_world(world, model, program):
    program.truncate("a.md", 0)
    cut = pickle.loads(pickle.dumps(model.states()[0]))
    assert isinstance(cut, PowerCut)
    shutil.copytree(world, "/copy")
    cut.apply("/copy")
    assert snapshot(Path("/copy")) == {"a.md": b"old"} and snapshot() == {"a.md": b""}


# -- any sequence: every state is one the assumptions allow ----------------------

FILES = ("a", "b", "d/a", "d/b", "e/a")
FOLDERS = ("d", "e", "f")  # renames among these stay in one folder (see Oracle)
START: dict[str, bytes | None] = {"a": b"old", "d": None, "d/u": b"never told"}
LIMIT = 6
events = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["create", "unlink"]), st.sampled_from(FILES)),
        st.tuples(
            st.just("write"),
            st.sampled_from(FILES),
            st.none() | st.integers(0, 6),
            st.binary(min_size=1, max_size=3),
        ),
        st.tuples(st.just("truncate"), st.sampled_from(FILES), st.integers(0, 6)),
        st.tuples(st.just("rename"), st.sampled_from(FILES), st.sampled_from(FILES)),
        st.tuples(st.just("rename"), st.sampled_from(FOLDERS), st.sampled_from(FOLDERS)),
        st.tuples(st.sampled_from(["mkdir", "rmdir"]), st.sampled_from(FOLDERS)),
        st.tuples(st.just("fsync"), st.sampled_from((*FILES, *FOLDERS, "."))),
    ),
    max_size=16,
)


class Oracle:
    """The states a power cut may leave, restated independently of the model.

    Each file inode keeps the contents it may show (durable, then one more per
    unsynced write); each folder inode keeps the name maps it may show (durable,
    then one more per unsynced change). Folders are renamed only within the root,
    so no choice of maps places a folder twice.
    """

    def __init__(self) -> None:
        self.content: dict[int, bytes] = {}
        self.versions: dict[int, list[bytes]] = {}
        self.entries: dict[int, dict[str, int]] = {0: {}}
        self.maps: dict[int, list[dict[str, int]]] = {0: [{}]}
        for path, data in START.items():
            parent, name, _ = self.find(path)
            inode = self._new(data)
            self.entries[parent][name] = inode
            self.maps[parent] = [dict(self.entries[parent])]

    def _new(self, data: bytes | None) -> int:
        inode = len(self.content) + len(self.entries)
        if data is None:
            self.entries[inode], self.maps[inode] = {}, [{}]
        else:
            self.content[inode], self.versions[inode] = data, [data]
        return inode

    def find(self, path: str) -> tuple[int, str, int | None]:
        """The parent folder, the name, and what it names; the parent is -1 if missing."""
        *folders, name = path.split("/")
        parent: int | None = 0
        for folder in folders:
            parent = self.entries.get(parent, {}).get(folder)  # type: ignore[arg-type]
        if parent not in self.entries:
            return -1, name, None
        return parent, name, self.entries[parent].get(name)  # type: ignore[index]

    # -- which events the OS performs --------------------------------------------

    def valid(self, kind: str, path: str, *args: object) -> bool:
        parent, _, child = self.find(path)
        if kind in ("create", "mkdir"):
            return parent >= 0 and child is None
        if kind in ("write", "truncate", "unlink"):
            return child in self.content
        if kind == "rmdir":
            return child in self.entries and not self.entries[child]
        if kind == "fsync":
            return path == "." or child is not None
        return child is not None and self._can_rename(path, str(args[0]), child)

    def _can_rename(self, src: str, dst: str, moving: int) -> bool:
        parent, _, replaced = self.find(dst)
        if parent < 0 or src == dst:
            return False
        if moving in self.content:
            return replaced is None or replaced in self.content
        return replaced is None or (replaced in self.entries and not self.entries[replaced])

    # -- what they do ------------------------------------------------------------

    def play(self, program: Program, kind: str, path: str, *args: object) -> None:
        getattr(self, kind)(path, *args)
        getattr(program, kind)(path, *(_disk_args(kind, args)))

    def create(self, path: str) -> None:
        self._change(path, self._new(b""))

    def mkdir(self, path: str) -> None:
        self._change(path, self._new(None))

    def unlink(self, path: str) -> None:
        self._change(path, None)

    rmdir = unlink

    def rename(self, src: str, dst: str) -> None:
        moving = self.find(src)[2]
        if self.find(src)[0] == self.find(dst)[0]:
            self._change(src, None, record=False)
        else:
            self._change(src, None)
        self._change(dst, moving)

    def _change(self, path: str, inode: int | None, *, record: bool = True) -> None:
        parent, name, _ = self.find(path)
        if inode is None:
            del self.entries[parent][name]
        else:
            self.entries[parent][name] = inode
        if record:
            self.maps[parent].append(dict(self.entries[parent]))

    def write(self, path: str, offset: int | None, data: bytes) -> None:
        old = self.content[self._file(path)]
        start = len(old) if offset is None else offset
        self._data(path, old.ljust(start, b"\0")[:start] + data + old[start + len(data) :])

    def truncate(self, path: str, size: int) -> None:
        self._data(path, self.content[self._file(path)][:size].ljust(size, b"\0"))

    def _file(self, path: str) -> int:
        inode = self.find(path)[2]
        assert inode is not None
        return inode

    def _data(self, path: str, new: bytes) -> None:
        inode = self._file(path)
        self.content[inode] = new
        self.versions[inode].append(new)

    def fsync(self, path: str) -> None:
        inode = 0 if path == "." else self._file(path)
        if inode in self.entries:
            self.maps[inode] = [dict(self.entries[inode])]
        else:
            self.versions[inode] = [self.content[inode]]

    # -- which disks the assumptions allow ---------------------------------------

    def allows(self, disk: dict[str, bytes | None], folder: int = 0, prefix: str = "") -> bool:
        here = {p[len(prefix) :]: v for p, v in disk.items() if "/" not in p[len(prefix) :]}
        return any(self._matches(disk, names, here, prefix) for names in self.maps[folder])

    def _matches(self, disk, names: dict[str, int], here, prefix: str) -> bool:
        if names.keys() != here.keys():
            return False
        for name, inode in names.items():
            if inode in self.entries:
                ok = here[name] is None and self.allows(
                    _below(disk, f"{prefix}{name}/"), inode, f"{prefix}{name}/"
                )
            else:
                ok = here[name] in self.versions[inode]
            if not ok:
                return False
        return True

    def harshest(self, folder: int = 0, prefix: str = "") -> dict[str, bytes | None]:
        disk: dict[str, bytes | None] = {}
        for name, inode in self.maps[folder][0].items():
            if inode in self.entries:
                disk[prefix + name] = None
                disk.update(self.harshest(inode, f"{prefix}{name}/"))
            else:
                disk[prefix + name] = self.versions[inode][0]
        return disk


def _below(disk: dict[str, bytes | None], prefix: str) -> dict[str, bytes | None]:
    return {p: v for p, v in disk.items() if p.startswith(prefix)}


def _disk_args(kind: str, args: tuple[object, ...]) -> tuple[object, ...]:
    """Program.write takes (data, offset); the events carry (offset, data)."""
    return (args[1], args[0]) if kind == "write" else args


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=events, seed=st.integers(0, 3))
def test_every_state_is_one_a_disk_could_show(fs, events, seed):
    restore(START)
    model, oracle = PowerLossModel(WORLD), Oracle()
    for kind, path, *args in events:
        if oracle.valid(kind, path, *args):
            oracle.play(Program(model), kind, path, *args)
        else:
            getattr(model, kind)(path, *args)  # the OS would refuse it: nothing may change
    crashed = snapshot()
    disks = outcomes(model, LIMIT)
    assert 1 <= len(disks) <= LIMIT
    assert disks[0] == oracle.harshest()
    assert all(oracle.allows(disk) for disk in disks), disks
    if len(disks) < LIMIT:  # every combination was listed, keeping everything among them
        assert crashed in disks
    assert model.states(LIMIT, seed) == model.states(LIMIT, seed)
