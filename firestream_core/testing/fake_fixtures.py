"""Fixtures for the recording fake helm."""
