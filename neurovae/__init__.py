"""neurovae."""
