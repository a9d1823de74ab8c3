"""What scoring raises or warns, shared by every part of the package."""

from __future__ import annotations


class ScoringError(ValueError):
    """Scoring cannot proceed as asked (reason codes fitted on another model, bad arguments)."""


class UnsupportedPreprocessing(TypeError):
    """The pipeline's preprocessing has a step this package cannot re-express or attribute."""


class ScoringWarning(UserWarning):
    """Scoring took a slower but still correct path."""
