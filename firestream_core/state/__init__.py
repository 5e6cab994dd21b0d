"""What was applied: the state file (``store``), the project lock (``lock``) and
the state kept in the cluster (``kubernetes``). Import from the defining module.
"""
