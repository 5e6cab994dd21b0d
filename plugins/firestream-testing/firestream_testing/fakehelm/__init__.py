"""A recording fake ``helm`` for fast tests and benchmarks.

:class:`FakeHelm` writes an executable script (``#!<this python>``, :mod:`.cli`) that
behaves like helm for what firestream and helmfile use, keeps its releases
in a JSON state file and appends every call to a JSONL log with its start
and end time. Tests point firestream at it (``Helm(binary=fake.binary,
env=fake.env)`` or :meth:`FakeHelm.helm`) and then assert on the calls::

    def test_apply(fake_helm):
        fake_helm.set_delay("db", 0.2)
        fake_helm.fail_on("web", "upgrade", "boom")
        ...
        assert fake_helm.calls("upgrade") == [...]
        db, web = fake_helm.call_log("upgrade", release="db")[0], ...
        assert web.start >= db.end

What it does (``helm <command>``):

=========================== ====================================================
``version``                 ``v3.19.0`` or ``v4.3.1`` (:meth:`FakeHelm.set_major`);
                            ``--template``, ``--short`` and the long form
``list``                    ``-A``, ``-n``, ``-o json|yaml|table``, ``--max``,
                            ``--filter``, status filters; helm 3 shows deployed
                            and failed unless ``-a/--all``; helm 4 shows every
                            status and, like the real one, rejects ``--all``
                            (``uninstalled``, kept by ``--keep-history``, too)
``upgrade`` / ``install``   records a revision (pending while its delay runs,
                            then ``deployed``; earlier one ``superseded``),
                            chart name/version (from a chart folder's
                            ``Chart.yaml``, a ``name-version.tgz``, or
                            ``repo/chart`` + ``--version``, the repo having been
                            added; a constraint or no version picks among the
                            chart's published versions, :meth:`FakeHelm.publish`,
                            ``1.0.0`` when none were), values from every ``-f`` file then
                            ``--set``; a pending release answers "another
                            operation ... is in progress"; injected failures
                            honour ``--atomic`` / ``--rollback-on-failure``;
                            ``--dry-run`` records nothing; ``-o json``;
                            ``install`` re-uses the name of a release
                            uninstalled with ``--keep-history`` only with
                            ``--replace`` (the history goes on); an
                            ``install --dry-run`` checks no name, as helm's;
                            a chart :meth:`FakeHelm.fail_render` breaks fails
                            to render (a dry run too), nothing recorded
``uninstall`` / ``delete``  ``--ignore-not-found``, ``--keep-history``
``status`` ``history``      ``-o json`` (and a readable table)
``rollback``                ``NAME [REVISION]``
``get values|manifest|all`` ``--all``, ``--revision``, ``-o json``
``template``                a ConfigMap manifest holding the values' keys
                            (or the :meth:`FakeHelm.fail_render` error)
``repo add|update|list|remove``  ``--force-update``, ``--password-stdin``; one set of
                            repositories per ``$HELM_REPOSITORY_CONFIG`` (a
                            firestream run's own), else the user's
                            (``FakeHelm.repos()``): ``search repo`` and a
                            ``repo/chart`` read the call's
``registry login|logout``   password from stdin, never recorded
``dependency build|update`` no-op
``pull``                    writes ``name-version.tgz`` in ``--destination``
``test``                    a ``TEST SUITE`` block; fails when told to
``show chart|values|all``   from the chart folder (helmfile asks for it); a
                            repository or OCI chart at the version it resolves
``search repo``             ``KEYWORD [--version C] -o json``: the published
                            charts of added repositories (and ``KEYWORD`` itself
                            when it is a ``repo/chart``), each at the highest
                            version ``C`` allows
``plugin list``             empty; ``diff`` is absent, as without the plugin
=========================== ====================================================

Unknown flags are ignored (helmfile passes many), so is ``--kubeconfig``.
State lives in the folder named by ``FAKE_HELM_STATE``; every change is
made under an exclusive file lock, and never while a delay runs, so
parallel calls interleave as real ones would. Values are stored (tests read
them back) but never printed except where helm prints them (``get values``,
``-o json`` release output).

The package, by concern: :mod:`.api` (:class:`FakeHelm`, what a test
holds), :mod:`.store` (the state folder, its lock and the call log),
:mod:`.cli` (the script: one invocation, its commands), :mod:`.releases`
(the commands that change a release: install/upgrade, uninstall, rollback)
and :mod:`.helmio` (argument parsing, values, charts and what helm prints).
"""

from __future__ import annotations

from firestream_testing.fakehelm.api import FakeCall, FakeHelm
from firestream_testing.fakehelm.store import ENV_STATE

__all__ = ["ENV_STATE", "FakeCall", "FakeHelm"]
