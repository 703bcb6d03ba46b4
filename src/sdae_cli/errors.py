"""The errors a user can cause. The CLI prints their one-line message and exits 1."""


class SdaeError(Exception):
    """A user-facing error: one line that names the file, row, column or flag."""


class DataError(SdaeError):
    """Input data that cannot be read or used."""


class ModelError(SdaeError):
    """A model file that cannot be read or used."""


class TrainingError(SdaeError):
    """Training that cannot go on (for example, a diverging loss)."""


class ConfigError(SdaeError):
    """A setting out of range. `option` names it (without dashes), so the CLI can name the flag."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


class ResourceError(SdaeError):
    """A job that needs more memory than the machine, or the process's limits, leave it."""
