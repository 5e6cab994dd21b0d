"""The project-name constant and the pluggy markers every plugin uses.

A chart plugin writes ``from firestream_core import hookimpl`` and decorates
its stage implementations with it; the core's hookspecs are marked with
``hookspec``. Both are bound to the project name ``firestream``.
"""

from __future__ import annotations

import pluggy

NAME = "firestream"
"""The pluggy project name, also the prefix of the entry-point group.

>>> NAME, ENTRY_POINT_GROUP
('firestream', 'firestream.charts')

A plugin distribution registers its module in that group (``pyproject.toml``):

.. code-block:: toml

    [project.entry-points."firestream.charts"]
    my-chart = "firestream_chart_my_chart"
"""

ENTRY_POINT_GROUP = "firestream.charts"
"""Entry-point group through which chart plugins are discovered."""

PLUGIN_API_VERSION = 6
"""Version of the hook API this core provides.

API 2 added ``contribute_values`` (the pure desired-state stage); a plugin
implementing it declares ``FIRESTREAM_PLUGIN_API = 2`` so an older core, which
would never call it, refuses the plugin instead of deploying without its values.
API 3 added ``DeployContext.note`` / ``refuse`` / ``require_breaking_version``
and ``releases`` for that stage (a plugin using them declares 3). API 4 added
``DeployContext.exec_step`` (a step exec takes besides helm, for the plan). API 5
added ``ChartType.destroy_steps`` (what a destroy removes besides helm's uninstall),
``DeployContext.out_of_date`` (an installed release the plugin sees is not as
configured) and ``DeployContext.creates_namespace`` (pre_exec creates the release's
namespace, for the plan). API 6 passes ``ChartType.destroy_steps`` taking a third argument a
read-only ``DeployContext`` (what a destroy deletes may depend on the cluster) and added
``DeployContext.planned_steps`` (the destructive steps the plan listed, for the hooks).

A plugin module may declare ``FIRESTREAM_PLUGIN_API = N``; a plugin built for
a newer API than this one is refused with a clear message instead of
crashing at call time. Hookspecs only ever gain arguments within one API
version (pluggy lets an implementation accept fewer than the spec offers).

A plugin implementing ``contribute_values`` declares it at module level::

    from firestream_core.plugin import hookimpl

    FIRESTREAM_PLUGIN_API = 2

    @hookimpl
    def contribute_values(chart, context):
        return {"metrics": {"enabled": True}}
"""

hookspec = pluggy.HookspecMarker(NAME)
"""The marker of a hook specification (the core's ``spec`` module uses it; a plugin never does).

How ``firestream_core.plugin.spec`` declares a stage::

    @hookspec
    def post_exec(chart, context, payload):
        ...
"""

hookimpl = pluggy.HookimplMarker(NAME)
"""The marker of a hook implementation: ``@hookimpl`` (or ``@hookimpl(tryfirst=True)``,
``@hookimpl(wrapper=True)``: a pluggy new-style wrapper, whose code before
``result = yield`` runs before the hook's other implementations; an ``exec``
wrapper is how a chart plugin runs its own step before helm, see
``PreparedRelease``). The function keeps working as written:

>>> from firestream_core.plugin import hookimpl
>>> @hookimpl
... def validate(chart, context, payload):
...     return []
>>> validate(None, None, {}), hasattr(validate, "firestream_impl")
([], True)
"""
