"""Public test helpers, reusable downstream: backend-aware ``assert_close``."""

from nmfdnn._testing import assert_close, default_tolerance

__all__ = ["assert_close", "default_tolerance"]
