"""The pytest plugin: fixtures for tests against the real helm and an emulated cluster.

Registered through the ``pytest11`` entry point, so installing
``firestream-core[testing]`` makes the fixtures available everywhere.
"""

pytest_plugins = [
    "firestream_testing.isolation",
    "firestream_testing.kube_fixtures",
    "firestream_testing.fake_fixtures",
    "firestream_testing.plugin_fixtures",
    "firestream_testing.registry",
]
