"""Errors a user can fix, as one family.

Anything raised as a :class:`UserError` is the user's to fix (a config key, a file, a
limit): the CLI prints it as one line on stderr and exits with code 2. Every other
exception is a bug and keeps its traceback. ``IMC_DEBUG=1`` shows tracebacks for user
errors too.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for: one line, exit code 2."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError-style quoting never reaches the user
        return str(self.args[0]) if self.args else ""


class ConfigError(UserError):
    """A config key or value that cannot be used (the message names its path)."""


class InputFileError(UserError):
    """A data, config, checkpoint or measurement file that cannot be read as asked."""


class ResourceLimitError(UserError):
    """A request that would exceed a memory or disk limit (the message gives both)."""


class PluginError(UserError):
    """A plugin that is installed but cannot be used (the message names its distribution)."""
