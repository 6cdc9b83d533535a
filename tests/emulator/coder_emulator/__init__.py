"""Stateful stand-in for a Coder server (coder.com) used by the collection's tests.

Start it with ``python -m coder_emulator --host 127.0.0.1 --port 0 --token TOKEN`` or, from Python,
with :func:`coder_emulator.server.start_server`.
"""

from .server import start_server

__all__ = ["start_server"]
