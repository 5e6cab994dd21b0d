"""``sha256``: CPython's own SHA-256, without what ``import hashlib`` costs at start-up.

``import hashlib`` loads OpenSSL's ``libcrypto`` and sets it up: 2.4 ms of a
``plan``'s or an ``apply``'s start, against 0.3 ms for CPython's ``_sha256``
module (median of 15 fresh interpreters each, on the machine of bench/README.md's
tenth pass). Every digest firestream keeps (values, chart files, the desired
state, the values files' folder) is SHA-256 alone, whose bytes are the same
whichever implementation computes them. The standard library's ``random`` takes
its ``sha512`` the same way. Another Python, or a CPython built without the
module, gets ``hashlib``'s.

>>> sha256(b"firestream").hexdigest()[:16]
'c21db1abbde83216'
"""

from __future__ import annotations

try:
    from _sha256 import sha256  # CPython 3.11
except ImportError:  # pragma: no cover - the interpreter decides which branch runs
    try:
        from _sha2 import sha256  # type: ignore[import-not-found, no-redef]  # CPython 3.12+
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment]

__all__ = ["sha256"]
