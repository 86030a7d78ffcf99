"""The state store: generation numbers and node UUIDs kept across restarts in the state directory."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from hbtwist.daemon import state
from hbtwist.daemon.state import GENERATION_FILE, UUID_FILE, StateError, next_generation, node_uuid


def stored_generation(directory: Path, number: int) -> None:
    """Write `number` into the generation file as Heartbeat lays it out."""
    (directory / GENERATION_FILE).write_bytes(b"%15d\n" % number)


# Generation numbers


def test_generation_file_layout(tmp_path: Path) -> None:
    """The file holds the number right-aligned in 15 columns and one newline, nothing else."""
    stored_generation(tmp_path, 41)
    assert next_generation(tmp_path) == 42
    assert (tmp_path / GENERATION_FILE).read_bytes() == b"             42\n"


def test_each_start_takes_the_next_generation(tmp_path: Path) -> None:
    """Successive starts get successive numbers, each stored before it is returned."""
    stored_generation(tmp_path, 7)
    taken = []
    for _ in range(3):
        taken.append(next_generation(tmp_path))
        assert (tmp_path / GENERATION_FILE).read_text() == f"{taken[-1]:15d}\n"
    assert taken == [8, 9, 10]


def test_first_generation_follows_the_clock(tmp_path: Path) -> None:
    """Without a generation file the first number is the time plus one, so it beats any older
    generation the node had before its state was lost."""
    before = int(time.time())
    generation = next_generation(tmp_path / "new")
    after = int(time.time())
    assert before + 1 <= generation <= after + 1
    assert (tmp_path / "new" / GENERATION_FILE).read_text() == f"{generation:15d}\n"


def test_generation_without_padding_is_read(tmp_path: Path) -> None:
    """A number written by hand without the padding (or with a trailing blank) is read too."""
    (tmp_path / GENERATION_FILE).write_text("99 \n")
    assert next_generation(tmp_path) == 100


def test_time_method_uses_the_clock_and_writes_nothing(tmp_path: Path) -> None:
    """`hbgenmethod time`: the generation is the current time in seconds; no file is touched."""
    directory = tmp_path / "state"
    before = int(time.time())
    generation = next_generation(directory, "time")
    assert before <= generation <= int(time.time())
    assert not directory.exists()


def test_state_directory_is_created_private(tmp_path: Path) -> None:
    """A missing state directory (and its parents) is created, the directory itself mode 0700."""
    directory = tmp_path / "var" / "lib" / "hbtwist"
    previous = os.umask(0o022)
    try:
        next_generation(directory)
    finally:
        os.umask(previous)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert sorted(path.name for path in directory.iterdir()) == [GENERATION_FILE]


def test_generation_is_replaced_after_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new number goes to a temporary file that is fsync'd, then renamed over the old one."""
    stored_generation(tmp_path, 5)
    steps: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        steps.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recording_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        steps.append(("replace", f"{source} -> {target}"))
        assert (tmp_path / GENERATION_FILE).read_bytes() == b"%15d\n" % 5
        replace(source, target)

    monkeypatch.setattr(state.os, "fsync", recording_fsync)
    monkeypatch.setattr(state.os, "replace", recording_replace)
    assert next_generation(tmp_path) == 6
    temporary = tmp_path / "hb_generation.new"
    assert steps == [
        ("fsync", str(temporary)),
        ("replace", f"{temporary} -> {tmp_path / GENERATION_FILE}"),
    ]
    assert not temporary.exists()


def test_failed_replace_keeps_the_old_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the rename fails the start fails (StateError) and the stored number is unchanged."""
    stored_generation(tmp_path, 5)

    def failing_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(state.os, "replace", failing_replace)
    with pytest.raises(StateError) as raised:
        next_generation(tmp_path)
    assert str(raised.value) == f"{tmp_path / GENERATION_FILE}: cannot write: Input/output error"
    assert (tmp_path / GENERATION_FILE).read_bytes() == b"%15d\n" % 5


def test_garbage_generation_is_an_error(tmp_path: Path) -> None:
    """A generation file that does not hold a number stops the start rather than restarting at 1."""
    (tmp_path / GENERATION_FILE).write_text("not a number\n")
    with pytest.raises(StateError, match="hb_generation: unreadable generation number"):
        next_generation(tmp_path)
    assert (tmp_path / GENERATION_FILE).read_text() == "not a number\n"


def test_unreadable_generation_is_an_error(tmp_path: Path) -> None:
    """A generation file that cannot be read (here: a directory) is a StateError naming it."""
    (tmp_path / GENERATION_FILE).mkdir()
    with pytest.raises(StateError) as raised:
        next_generation(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / GENERATION_FILE}: unreadable generation number")


def test_unwritable_generation_is_an_error(tmp_path: Path) -> None:
    """When the new number cannot be written (the temporary name is taken by a directory) the
    start fails with a StateError naming the file and why."""
    stored_generation(tmp_path, 5)
    (tmp_path / "hb_generation.new").mkdir()
    with pytest.raises(StateError) as raised:
        next_generation(tmp_path)
    assert str(raised.value) == f"{tmp_path / GENERATION_FILE}: cannot write: Is a directory"
    assert (tmp_path / GENERATION_FILE).read_bytes() == b"%15d\n" % 5


def test_state_directory_that_cannot_be_made(tmp_path: Path) -> None:
    """A state directory under a regular file cannot be created: a StateError naming it."""
    (tmp_path / "file").write_text("")
    directory = tmp_path / "file" / "state"
    for take in (next_generation, lambda path: node_uuid(path, "alpha")):
        with pytest.raises(StateError) as raised:
            take(directory)
        assert str(raised.value) == f"{directory}: cannot create state directory: Not a directory"


# Node UUIDs


def test_uuid_is_made_once_and_kept(tmp_path: Path) -> None:
    """The first start makes a random 16-byte UUID and stores it raw; later starts reuse it."""
    first = node_uuid(tmp_path, "alpha")
    assert len(first) == 16 and uuid.UUID(bytes=first).version == 4
    assert (tmp_path / UUID_FILE).read_bytes() == first
    assert node_uuid(tmp_path, "alpha") == first
    assert node_uuid(tmp_path, "renamed") == first


def test_uuids_differ_between_state_directories(tmp_path: Path) -> None:
    """Two nodes with their own state directories get different UUIDs."""
    assert node_uuid(tmp_path / "a", "alpha") != node_uuid(tmp_path / "b", "alpha")


def test_stored_uuid_is_used_as_is(tmp_path: Path) -> None:
    """A UUID file of 16 bytes (e.g. copied from a Heartbeat node) is this node's UUID."""
    stored = bytes(range(16))
    (tmp_path / UUID_FILE).write_bytes(stored)
    assert node_uuid(tmp_path, "alpha") == stored


def test_truncated_uuid_is_replaced(tmp_path: Path) -> None:
    """A UUID file that is not 16 bytes long is replaced by a new random UUID, stored durably."""
    (tmp_path / UUID_FILE).write_bytes(b"short")
    fresh = node_uuid(tmp_path, "alpha")
    assert len(fresh) == 16 and fresh != b"short".ljust(16, b"\0")
    assert (tmp_path / UUID_FILE).read_bytes() == fresh
    assert not (tmp_path / "hb_uuid.new").exists()


def test_nodename_method_derives_the_uuid(tmp_path: Path) -> None:
    """`uuidfrom nodename`: the UUID is derived from the node name (UUID 5), no file is written."""
    directory = tmp_path / "state"
    derived = node_uuid(directory, "alpha", "nodename")
    assert derived == uuid.uuid5(uuid.NAMESPACE_DNS, "alpha").bytes
    assert node_uuid(directory, "alpha", "nodename") == derived
    assert node_uuid(directory, "beta", "nodename") != derived
    assert not directory.exists()


def test_unreadable_uuid_is_an_error(tmp_path: Path) -> None:
    """A UUID file that cannot be read (here: a directory) is a StateError naming it and why."""
    (tmp_path / UUID_FILE).mkdir()
    with pytest.raises(StateError) as raised:
        node_uuid(tmp_path, "alpha")
    assert str(raised.value) == f"{tmp_path / UUID_FILE}: unreadable node UUID: Is a directory"


def test_unwritable_uuid_is_an_error(tmp_path: Path) -> None:
    """When a new UUID cannot be stored the start fails with a StateError naming the file."""
    (tmp_path / "hb_uuid.new").mkdir()
    with pytest.raises(StateError) as raised:
        node_uuid(tmp_path, "alpha")
    assert str(raised.value) == f"{tmp_path / UUID_FILE}: cannot write: Is a directory"
    assert not (tmp_path / UUID_FILE).exists()
