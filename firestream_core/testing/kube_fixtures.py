"""Fixtures for the emulated cluster, real helm binaries and the chart repository."""
