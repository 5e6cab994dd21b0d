"""tools/digest.py: SHA-256 without hashlib's OpenSSL start, the same bytes as hashlib's."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from firestream_core.tools.digest import sha256


def test_the_same_digests_as_hashlib_whole_and_in_pieces() -> None:
    for data in (b"", b"firestream", bytes(range(256)) * 1000):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
        h = sha256()
        for i in range(0, len(data), 777):
            h.update(data[i:i + 777])
        assert h.digest() == hashlib.sha256(data).digest()


def test_importing_it_does_not_import_hashlib() -> None:
    code = "import sys; import firestream_core.tools.digest; print('hashlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert done.stdout == "False\n"
