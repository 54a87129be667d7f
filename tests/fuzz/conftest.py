"""The API fuzzers run against the real in-process server of tests/api."""

from tests.api.conftest import server, socket_dir

__all__ = ["server", "socket_dir"]
