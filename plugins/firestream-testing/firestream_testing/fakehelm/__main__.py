"""``python -m firestream_testing.fakehelm``: the fake helm's command line."""

from __future__ import annotations

import sys

from firestream_testing.fakehelm.cli import main

sys.exit(main())
