"""Errors a user can fix, as one family.

Anything raised as a :class:`UserError` is the user's to fix (a config key, a file, a
limit): the CLI prints it as one line on stderr and exits with code 2. Every other
exception is a bug and keeps its traceback. ``IMC_DEBUG=1`` shows tracebacks for user
errors too.

Members that replace a built-in exception also subclass it (``ConfigKeyError`` is a
``KeyError``, ``InputFileError`` a ``FileNotFoundError``...), so library callers that
caught the built-in keep working.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for: one line, exit code 2."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError-style quoting never reaches the user
        return str(self.args[0]) if self.args else ""


class UsageError(UserError, ValueError):
    """A command-line argument or combination of arguments that cannot be used."""


class ConfigError(UserError):
    """A config key or value that cannot be used (the message names its path)."""


class ConfigKeyError(ConfigError, KeyError):
    """An unknown config key (the message names its path and the closest valid key)."""


class ConfigValueError(ConfigError, ValueError):
    """A config value of the wrong type or out of range (path and unit in the message).

    ``key`` names the offending field when the error is raised inside its class; the
    path of the enclosing table is added when the error reaches the top.
    """

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


class InputFileError(UserError, FileNotFoundError):
    """A data, config, checkpoint or measurement file that cannot be read as asked."""


class RunFolderError(UserError, ValueError):
    """The run folder cannot be used as asked (exists, not resumable, unwritable)."""


class ResourceLimitError(UserError):
    """A request that would exceed a memory or disk limit (the message gives both)."""


class PluginError(UserError):
    """A plugin that is installed but cannot be used (the message names its distribution)."""


class UnknownNameError(UserError, KeyError):
    """A backend, preset, rule, model, task or other catalogue name that is not installed."""


class ComputeUnavailable(UserError, RuntimeError):
    """The requested compute (``gpu``) is not available here (no cupy or no CUDA device)."""


class DataError(UserError, ValueError):
    """A data file or folder whose contents cannot be used as asked (shape, type, values)."""


class SpecError(ConfigError, ValueError):
    """A device spec value out of range, or fields that contradict each other."""


class SpecTypeError(SpecError, TypeError):
    """A device spec field given a value of the wrong type."""
