"""Reading an input file with a bound: the one reader of every file a user hands firestream.

The project file, the state file and its journal, the lock file, saved plans,
the kubeconfig files a plan reads its cluster's identity from,
``secret_values`` and registry password files, ``values_files`` and
``--values`` files (at load and on every later read) are read through
:func:`read_bounded`, each kind with its own limit:

* the file is opened with ``O_NONBLOCK`` (a FIFO opens at once instead of
  waiting for a writer) and ``O_CLOEXEC``, then ``fstat``-ed: anything but a
  regular file (a folder, ``/dev/zero``, a FIFO, a socket) is refused before a
  byte is read;
* a regular file larger than the limit is refused from its size, and the read
  stops after ``limit + 1`` bytes whatever the size said (a file growing
  meanwhile), so no input can take more than its limit of memory.

A symbolic link is followed: it is checked as its target (a Kubernetes Secret
mounted as files is a tree of links). The problem is an :class:`UnreadableFile`
worded to follow the file's name (``is not a regular file``, ``is larger than
16 MiB``): the caller names the file the way its messages do.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["KUBECONFIG_LIMIT", "LOCK_FILE_LIMIT", "MIB", "PLAN_FILE_LIMIT", "VALUES_FILE_LIMIT", "UnreadableFile", "read_bounded",
           "size_text"]

MIB = 1024 * 1024
VALUES_FILE_LIMIT = 8 * MIB
"""The largest values file read (``values_files``, ``--values``), at load and each time after."""
PLAN_FILE_LIMIT = 64 * MIB
"""The largest saved plan read (``apply PLAN``): a plan holds no values, a state's worth of releases."""
LOCK_FILE_LIMIT = 64 * 1024
"""The largest lock file read (one holder's JSON line)."""
KUBECONFIG_LIMIT = 16 * MIB
"""The largest kubeconfig file read for the cluster's identity (``tools/kubeconfig.py``)."""
_CHUNK = 1024 * 1024


class UnreadableFile(Exception):
    """Why a file cannot be read, worded to follow its name (``is not a regular file``).

    :ivar reason: the words (``not found``, ``is a folder, not a file``, ``is not a
        regular file``, ``is larger than 8 MiB``, ``cannot be read: Permission denied``).
    :ivar missing: the file does not exist (callers often say more then).
    :ivar folder: the path is a folder.
    """

    def __init__(self, reason: str, *, missing: bool = False, folder: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing
        self.folder = folder


def size_text(limit: int) -> str:
    """``16 MiB``, ``64 KiB`` or ``100 bytes``: a limit as the messages write it.

    >>> size_text(16 * MIB), size_text(64 * 1024), size_text(100)
    ('16 MiB', '64 KiB', '100 bytes')
    """
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    :raises UnreadableFile: the file is missing, a folder, not a regular file
        (a device, a FIFO, a socket), larger than ``limit`` bytes, or cannot be
        opened or read (the reason worded to follow the file's name).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile("not found", missing=True) from None
    except IsADirectoryError:
        raise UnreadableFile("is a folder, not a file", folder=True) from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:  # a file where a folder of the path should be
            raise UnreadableFile("not found", missing=True) from None
        raise UnreadableFile(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise UnreadableFile("is a folder, not a file", folder=True)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile("is not a regular file")
        too_large = UnreadableFile(f"is larger than {size_text(limit)}")
        if st.st_size > limit:
            raise too_large
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise too_large
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(fd)
