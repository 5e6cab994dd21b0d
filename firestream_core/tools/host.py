"""Whether a process of this host still runs: the one check the project lock
(``state/lock.py``), the takeover of an expired lease (``state/kubernetes.py``), the values folders (``tools/values.py``) and the runs' helm folders
(``tools/helm_repos.py``) make of the process that left a file or folder behind.

A leaf module: :mod:`~firestream_core.tools.process` would do for the concern, but it
imports (through the redactor) the modules that need this.
"""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this host, whoever owns it (signal 0);
    a pid of 0 or less names none.

    >>> pid_alive(os.getpid()), pid_alive(0)
    (True, False)
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
