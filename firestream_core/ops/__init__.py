"""Operations beside apply: ``diff``, ``drift``, ``helm_hooks`` (``plan --hooks``)
and ``importer`` (``firestream import``). Import from the defining module.
"""
