"""The outside programs and what they read and write.

``process`` is the only module that runs programs (with the environment
``environment`` allows); ``helm`` / ``kubectl`` wrap it (command lines in
``helm_args``, failures typed by ``helm_errors``, output read by
``helm_output``); ``values`` writes 0600 values files; ``sensitivity`` says
which values are secret and ``redact`` hides them; ``oci``, ``chartfiles`` and ``manifests`` read charts and
rendered objects. Import from the defining module.
"""
