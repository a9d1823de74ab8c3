"""The stable prefixes of a fallback answer's reason, shared by every door: a client, a
dashboard or an auditor can tell why production answered `refer` without parsing prose.
(The stop switch's prefix lives with the switch: `governance.serving_switch`.)"""

NO_CHAMPION = "no champion model to score with"
MODEL_UNAVAILABLE = "model unavailable"
"""The champion's bundle cannot be loaded (integrity, missing file, store or log down)."""
MODEL_ERROR = "model error"
"""The loaded model raised on the applications."""
INVALID_INPUT = "input failed validation"
"""The application's values break the data contract."""
