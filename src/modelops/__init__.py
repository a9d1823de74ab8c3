"""modelops: release ML models with confidence."""
