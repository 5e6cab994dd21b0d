"""tools/readfile.py: the bounded reader of every input file (regular files only, a limit)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from firestream_core.tools.readfile import MIB, UnreadableFile, read_bounded, size_text


def reason(path: Path, limit: int = 100) -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_bounded(path, limit)
    return caught.value.reason


def test_a_regular_file_is_read_up_to_its_limit(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * 100)
    assert read_bounded(f, 100) == b"x" * 100
    assert read_bounded(tmp_path / "f", 1000) == b"x" * 100
    assert reason(f, 99) == "is larger than 99 bytes"
    link = tmp_path / "link"
    link.symlink_to(f)
    assert read_bounded(link, 100) == b"x" * 100  # a symlink is read as its target


def test_missing_and_folders(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as caught:
        read_bounded(tmp_path / "gone", 10)
    assert caught.value.missing and caught.value.reason == "not found"
    (tmp_path / "file").write_text("x")
    assert reason(tmp_path / "file" / "below") == "not found"
    with pytest.raises(UnreadableFile) as caught:
        read_bounded(tmp_path, 10)
    assert caught.value.folder and caught.value.reason == "is a folder, not a file"


def test_a_device_is_refused_before_reading(tmp_path: Path) -> None:
    assert reason(Path("/dev/zero"), 10 * MIB) == "is not a regular file"
    link = tmp_path / "z"
    link.symlink_to("/dev/zero")
    assert reason(link, 10 * MIB) == "is not a regular file"


def test_a_sparse_file_is_refused_from_its_size(tmp_path: Path) -> None:
    f = tmp_path / "sparse"
    with f.open("wb") as out:
        out.truncate(3 * 1024**3)
    assert reason(f, 16 * MIB) == "is larger than 16 MiB"


def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(read_bounded(fifo, 100))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # the reader waits for a writer: give it one, so the thread ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("reading a FIFO waited for a writer")
    (result,) = outcome
    assert isinstance(result, UnreadableFile) and result.reason == "is not a regular file"


def test_an_unreadable_file_says_why(tmp_path: Path, monkeypatch) -> None:
    """What opening a mode-0 file as another user gives (root, running the suite here, reads
    every file: the refusal is the kernel's, given as it would give it)."""
    import errno

    from firestream_core.tools import readfile

    f = tmp_path / "f"
    f.write_text("x")
    real_open = os.open

    def refused(path, flags, *args):  # noqa: ANN001, ANN002, ANN202
        if os.fspath(path) == str(f):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(f))
        return real_open(path, flags, *args)

    monkeypatch.setattr(readfile.os, "open", refused)
    assert reason(f) == "cannot be read: Permission denied"


def test_size_text() -> None:
    assert [size_text(n) for n in (MIB, 8 * MIB, 1536, 1000)] == ["1 MiB", "8 MiB", "1536 bytes", "1000 bytes"]


def test_values_files_read_again_after_the_load_keep_its_bound(tmp_path: Path) -> None:
    """The plan's changed keys, diff's redactor and the plugins' value checks read a
    ``values_files`` entry again after the load checked it: a file swapped meanwhile for a
    FIFO or a huge one is refused the same way, never waited on or read whole."""
    from firestream_core.tools.values import file_documents, read_values_file

    good, fifo, huge = tmp_path / "good.yaml", tmp_path / "fifo.yaml", tmp_path / "huge.yaml"
    good.write_text("a: 1\n")
    os.mkfifo(fifo)
    with huge.open("wb") as f:
        f.truncate(3 * 1024**3)
    assert read_values_file(good) == {"a": 1}
    for path, why in ((fifo, "is not a regular file"), (huge, "is larger than 8 MiB")):
        with pytest.raises(UnreadableFile, match=why):
            read_values_file(path)
    done = threading.Event()
    docs: list[object] = []

    def read_all() -> None:
        docs.extend(file_documents([fifo, huge, good]))
        done.set()

    threading.Thread(target=read_all, daemon=True).start()
    assert done.wait(10), "file_documents waited on a FIFO"
    assert docs == [{"a": 1}]  # the unreadable ones skipped, as before
    # the values digest (plan, state) reads them again too: an OSError naming the file
    from firestream_core.model import ChartInfo
    from firestream_core.tools.values import values_digest

    for path, why in ((fifo, "is not a regular file"), (huge, "is larger than 8 MiB")):
        with pytest.raises(OSError, match=why) as caught:
            values_digest(ChartInfo(name="r", chart="c", values_files=[str(path)]), tmp_path)
        assert caught.value.filename == str(path)
    with pytest.raises(FileNotFoundError):
        values_digest(ChartInfo(name="r", chart="c", values_files=["gone.yaml"]), tmp_path)
