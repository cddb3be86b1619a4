"""Public test helpers, reusable downstream: backend-aware ``assert_close`` / ``assert_equal``.

Both check the namespace, dtype, device and shape of a result before its values (the model is
array-api-extra's ``xp_assert_close``).
"""

from nmfdnn._testing import assert_close, assert_equal, default_tolerance

__all__ = ["assert_close", "assert_equal", "default_tolerance"]
