"""The ``neurovae`` command line."""
