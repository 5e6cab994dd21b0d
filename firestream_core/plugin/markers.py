"""The project-name constant and the pluggy markers every plugin uses.

A chart plugin writes ``from firestream_core import hookimpl`` and decorates
its stage implementations with it; the core's hookspecs are marked with
``hookspec``. Both are bound to the project name ``firestream``.
"""

from __future__ import annotations

import pluggy

NAME = "firestream"
"""The pluggy project name, also the prefix of the entry-point group."""

ENTRY_POINT_GROUP = "firestream.charts"
"""Entry-point group through which chart plugins are discovered."""

PLUGIN_API_VERSION = 3
"""Version of the hook API this core provides.

API 2 added ``contribute_values`` (the pure desired-state stage); a plugin
implementing it declares ``FIRESTREAM_PLUGIN_API = 2`` so an older core, which
would never call it, refuses the plugin instead of deploying without its values.
API 3 added ``DeployContext.note`` / ``refuse`` / ``require_breaking_version``
and ``releases`` for that stage (a plugin using them declares 3).

A plugin module may declare ``FIRESTREAM_PLUGIN_API = N``; a plugin built for
a newer API than this one is refused with a clear message instead of
crashing at call time. Hookspecs only ever gain arguments within one API
version (pluggy lets an implementation accept fewer than the spec offers).
"""

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)
