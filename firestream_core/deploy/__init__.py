"""Carrying out a project: ``plan`` (desired vs actual), ``scheduler`` (the DAG),
``lifecycle`` (one release's stages through the hooks, with the built-in
``defaults``, ``recovery`` and ``debuginfo``), ``run`` (one apply/destroy) and
its ``results``. Import from the defining module.
"""
