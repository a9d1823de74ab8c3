"""The spec's optional `serving:` section: defaults when absent, and a clear message naming
the field and the reason for a bad value (retention under six months is refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelops.spec import SpecError, load_spec
from support import GERMAN_SPEC, write_spec


def _spec_with(tmp_path: Path, serving: object) -> Path:
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["serving"] = serving
    return write_spec(tmp_path, spec)


def test_the_section_is_optional_with_bank_defaults(german_spec) -> None:
    assert german_spec.serving.decision_log_retention_days == 400
    assert german_spec.serving.fallback_decision == "refer"


def test_a_retention_of_six_months_or_more_is_kept(tmp_path: Path) -> None:
    spec = load_spec(_spec_with(tmp_path, {"decision_log_retention_days": 183}))
    assert spec.serving.decision_log_retention_days == 183


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        (
            {"decision_log_retention_days": 182},
            "serving.decision_log_retention_days: must be at least 183 days: banks keep "
            "decisions at least 6 months (got 182)",
        ),
        ({"decision_log_retention_days": "a year"}, "valid integer (got 'a year')"),
        ({"decision_log_retention_days": True}, "valid integer (got True)"),
        ({"decision_log_retention_days": 10**12}, "at most 36600 days"),
        ({"fallback_decision": "decline"}, "serving.fallback_decision: Input should be 'refer'"),
        ({"retention": 400}, "serving.retention: unknown key"),
        ("yes", "serving: Input should be a valid dictionary"),
    ],
)
def test_a_bad_serving_section_names_the_field_and_the_reason(
    tmp_path: Path, serving: object, message: str
) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec(_spec_with(tmp_path, serving))
    assert message in str(raised.value)
