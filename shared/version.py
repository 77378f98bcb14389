"""The installed greenwire version, for status messages, user agents and ``--version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("greenwire")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
