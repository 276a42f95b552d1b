"""User-facing errors.

Every error a user can cause with bad input (an architecture string, a config key, a data folder, a
checkpoint) is a `JaxnasError`. The CLI prints its message on one line and exits non-zero; library
users can catch the subclass they care about.
"""


class JaxnasError(Exception):
    """Base class of errors caused by bad input rather than by a bug."""


class ArchError(JaxnasError, ValueError):
    """A malformed or unknown architecture (string, index or op array)."""


class ConfigError(JaxnasError, ValueError):
    """A config file or override that does not fit the config."""


class UsageError(JaxnasError, ValueError):
    """A command-line argument that the command does not accept."""


class DivergenceError(JaxnasError):
    """Training produced a loss, gradient or parameter that is NaN or infinite."""


class DataError(JaxnasError):
    """Missing, empty or malformed data."""


class CheckpointError(JaxnasError):
    """A missing, corrupt or mismatched checkpoint."""


class GroundTruthError(JaxnasError):
    """A benchmark table or archive that cannot be read."""
