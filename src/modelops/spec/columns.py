"""Column names the platform adds to every use case's tables.

They are reserved: a spec may not declare a column with one of these names.
"""

ROW_ID = "row_id"
"""1-based position of the row in the source batch, kept so a quarantined row can be found."""

LABEL = "label"
"""The binary target as Int8: 1 for the spec's positive class, 0 otherwise."""

QUARANTINE_REASONS = "reasons"
"""Why a row was quarantined: every failed check of the row, joined by '; '."""

RESERVED = frozenset({ROW_ID, LABEL, QUARANTINE_REASONS})
