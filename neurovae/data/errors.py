"""The one exception the data readers raise, so that the CLI can print one helpful line, not a traceback."""

from neurovae.errors import NeurovaeError


class DataError(NeurovaeError):
    """A dataset name, folder or file is wrong; the message says what was wrong and what to do.

    Whitespace (newlines included) is collapsed so that the message is always exactly one line, even when it
    quotes a path or a lower-level error text.
    """
