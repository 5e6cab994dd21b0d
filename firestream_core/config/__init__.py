"""``firestream.toml`` -> ``ProjectConfig`` -> one ``HelmChart`` per release.

``load`` reads the file, ``parse`` checks it table by table into the frozen
models of ``model`` through the one cattrs ``converter`` (errors worded by
``paths``), ``secrets`` resolves ``secret_values`` and ``build`` turns the
releases into chart objects. Import from the defining module.
"""
