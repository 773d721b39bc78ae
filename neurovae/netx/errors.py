"""The one error the netx package raises: a file or record is not a network neurovae can use."""

from neurovae.errors import NeurovaeError


class NetxError(NeurovaeError):
    """A netx file or record is invalid; the message is one line that says what was wrong and what to do.

    Whitespace (newlines included) is collapsed so that the message is always exactly one line, even when it
    quotes a path or a lower-level error text.
    """
