"""The spec's `alerts` section: each kind routed to people and channels, the platform's
default without it, and every mistake refused at load time with the field and the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelops.spec import SpecError, UseCaseSpec, load_spec
from modelops.spec.alert_routes import ALERT_KINDS, CHANNELS, OWNERS, AlertRoutes

SRC = Path(__file__).resolve().parents[3] / "src" / "modelops"
OWNED_BY = ("team:credit-risk-models", "anna.berg@bank.example")


def _load(tmp_path: Path, spec: dict, alerts: object) -> UseCaseSpec:
    path = tmp_path / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump({**spec, "alerts": alerts}))
    return load_spec(path)


def _problems(tmp_path: Path, spec: dict, alerts: object) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, spec, alerts)
    return dict(caught.value.problems)


def test_without_the_section_every_kind_goes_to_the_owners_by_every_configured_channel(
    german_spec: UseCaseSpec,
) -> None:
    for kind in ALERT_KINDS:
        route = german_spec.alerts.route_for(kind)
        assert (route.kind, route.channels, route.written) == (kind, CHANNELS, False)
        assert route.people(OWNED_BY) == ("anna.berg@bank.example",)
    # A kind nobody wrote a field for yet still reaches the owners.
    assert german_spec.alerts.route_for("something_new").people(OWNED_BY) == (
        "anna.berg@bank.example",
    )


def test_a_kind_takes_its_own_route_and_the_rest_the_written_default(
    tmp_path: Path, german_spec_dict: dict
) -> None:
    spec = _load(
        tmp_path,
        german_spec_dict,
        {
            "default": {"channels": ["log"]},
            "drift": {
                "to": ["owners", "model-risk@bank.example", "anna.berg@bank.example"],
                "channels": ["email", "webhook"],
            },
        },
    )
    drift = spec.alerts.route_for("drift")
    assert (drift.channels, drift.written) == (("email", "webhook"), True)
    assert drift.people(OWNED_BY) == ("anna.berg@bank.example", "model-risk@bank.example")
    freshness = spec.alerts.route_for("freshness")
    assert (freshness.to, freshness.channels, freshness.written) == ((OWNERS,), ("log",), True)
    # The data owner is who `owners` means for an alert about the data.
    data = ("team:credit-risk-models", "lending-data@bank.example")
    assert spec.alerts.route_for("data_incident").people(data) == ("lending-data@bank.example",)


def test_an_unknown_kind_is_refused_with_the_closest_known_one(
    tmp_path: Path, german_spec_dict: dict
) -> None:
    problems = _problems(tmp_path, german_spec_dict, {"drfit": {"to": ["owners"]}})
    assert list(problems) == ["alerts.drfit"]
    assert "unknown key; did you mean 'drift'?" in problems["alerts.drfit"]
    assert "review_overdue" in problems["alerts.drfit"]  # the known kinds are listed


@pytest.mark.parametrize(
    ("route", "field", "reason"),
    [
        ({"to": ["anna"]}, "alerts.drift.to", "'anna' is not a recipient"),
        ({"to": []}, "alerts.drift.to", "at least 1 item"),
        ({"channels": ["sms"]}, "alerts.drift.channels[0]", "'email', 'webhook' or 'log'"),
        ({"channels": ["log", "log"]}, "alerts.drift.channels", "named twice: log"),
        ({"channels": []}, "alerts.drift.channels", "at least 1 item"),
        ({"people": ["a@b.cc"]}, "alerts.drift.people", "unknown key"),
    ],
)
def test_a_wrong_route_names_the_field_and_the_reason(
    tmp_path: Path, german_spec_dict: dict, route: dict, field: str, reason: str
) -> None:
    problems = _problems(tmp_path, german_spec_dict, {"drift": route})
    assert field in problems, problems
    assert reason in problems[field]


def test_every_kind_the_platform_raises_can_be_routed() -> None:
    """A kind raised in the code but missing from the section could not be routed (nor
    written in a spec): every `notify(spec, "<kind>", ...)` names a known kind."""
    raised = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        raised |= set(re.findall(r"notify\(\s*[\w.\[\]]+,\s*\"([a-z_]+)\"", text))
    assert {"drift", "run_failure", "gate_blocked", "review_overdue", "stop_switch"} <= raised
    assert raised <= set(ALERT_KINDS), raised - set(ALERT_KINDS)


def test_the_section_round_trips_as_the_training_record_keeps_it() -> None:
    routes = AlertRoutes.model_validate({"drift": {"to": ["a@b.cc"], "channels": ["email"]}})
    again = AlertRoutes.model_validate(routes.model_dump(mode="json"))
    assert again == routes and again.route_for("drift").people(()) == ("a@b.cc",)
