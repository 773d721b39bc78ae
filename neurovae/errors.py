"""User-facing errors: one line that says what was wrong and what to do.

Every error that a user can cause (a missing file, a bad config key, a foreign HDF5) is raised as a
subclass of :class:`NeurovaeError` at the boundary where it is detected; the command line prints its
message on one line and exits non-zero instead of showing a traceback.
"""


class NeurovaeError(ValueError):
    """Base class for errors caused by the user's input, not by a bug.

    Whitespace (newlines included) is collapsed, so the message is exactly one line even when it quotes a path
    or a lower-level error text.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(NeurovaeError):
    """A configuration file or override is invalid."""


class CheckpointError(NeurovaeError):
    """A run directory or checkpoint is missing or unreadable."""


class OutputError(NeurovaeError):
    """An output cannot be written now.

    It exists (and ``--force`` was not given), a file stands where a folder must be, or another process writes it.
    """
