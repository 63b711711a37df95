"""Errors a user can act on. The CLI prints their message (no traceback) and exits with `exit_code`."""


class SpectrogenError(Exception):
    """Base class of expected errors: bad input, bad configuration, refused overwrite."""

    exit_code = 1


class UsageError(SpectrogenError):
    """The command line or the configuration asks for something impossible (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration field is unknown, of the wrong type or out of range."""


class InputError(UsageError):
    """An input file or folder is missing, unreadable or malformed (exit code 2)."""

    def __init__(self, message: str, path=None):
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


class OverwriteError(UsageError):
    """The output location already holds something the user made."""


class CheckpointError(InputError):
    """A checkpoint file is foreign, truncated, of another model or carries code."""


class NotAvailableError(SpectrogenError):
    """A feature that this version does not provide yet."""

    exit_code = 3


class TrainingDiverged(SpectrogenError):
    """Training produced non-finite values and the configuration says to stop."""
