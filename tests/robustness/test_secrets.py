"""No secret appears in any message: a password given in the audit database's connection
string in any format (URL, query parameter, key-value pairs, quoted with spaces,
percent-encoded, inside libpq `options`), a value that is not a connection string at all, the
MLflow URI, the webhook URL; through the real code paths (settings, a connection refused,
the operator commands, an alert that cannot be delivered)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from modelops.resources.alerts import Alert, WebhookAlerts
from modelops.settings import Settings, SettingsError, redact
from support import copy_german_spec, make_settings
from support.platform_cli import cli

SECRET = "s3cret"

AUDIT_DSNS = [
    f"host=db.bank.internal dbname=modelops user=audit password={SECRET}",
    f"host=db.bank.internal password = {SECRET} dbname=modelops",
    f"host=db.bank.internal dbname=modelops password='{SECRET} with spaces'",
    f'host=db.bank.internal dbname=modelops PASSWORD="{SECRET}"',
    f"postgresql://audit:{SECRET}@db.bank.internal:5432/modelops",
    f"postgresql://audit:{SECRET}@db.bank.internal/modelops?sslmode=require",
    f"postgresql://db.bank.internal/modelops?password={SECRET}",
    f"postgresql://db.bank.internal/modelops?user=audit&password={SECRET}&sslmode=require",
    f"postgresql://db.bank.internal/modelops?password%3D{SECRET}",
    f"postgresql://db.bank.internal/modelops?options=-c%20password%3D{SECRET}",
    f"pwd:{SECRET}",  # not a connection string at all: never echoed
    f"{SECRET}",
]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("secrets")
    copy_german_spec(root / "specs")
    return make_settings(root, root / "specs")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("dsn", AUDIT_DSNS)
def test_a_password_in_the_audit_database_url_is_refused_and_never_shown(
    platform: Settings, dsn: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"MODELOPS_SPECS_DIR": str(platform.specs_dir),
                           "MODELOPS_AUDIT_DATABASE_URL": dsn})  # fmt: skip
    assert "MODELOPS_AUDIT_DATABASE_URL" in str(refused.value)
    assert SECRET not in str(refused.value)
    outcome = cli(platform, "audit", "verify", env={"MODELOPS_AUDIT_DATABASE_URL": dsn})
    assert outcome.code == 2
    assert "MODELOPS_AUDIT_DATABASE_URL" in outcome.err
    assert SECRET not in outcome.printed


@pytest.mark.parametrize("dsn", [d for d in AUDIT_DSNS if "=" in d or "://" in d])
def test_redact_removes_the_password_of_every_connection_string_format(dsn: str) -> None:
    assert SECRET not in redact(dsn)
    assert SECRET not in redact(f"could not connect with {dsn}: refused")


@pytest.mark.parametrize(
    "uri",
    [
        f"http://admin:{SECRET}@mlflow.bank.internal",
        f"https://mlflow.bank.internal/?token={SECRET}",
        f"mlflow.bank.internal:{SECRET}",
    ],
)
def test_a_secret_in_the_mlflow_uri_is_refused_and_never_shown(platform: Settings, uri: str):
    outcome = cli(platform, "status", "-u", "german_credit",
                  env={"MODELOPS_MLFLOW_TRACKING_URI": uri})  # fmt: skip
    assert outcome.code == 2
    assert "MODELOPS_MLFLOW_TRACKING_URI" in outcome.err
    assert SECRET not in outcome.printed


def test_a_refused_connection_shows_no_secret_from_the_environment(platform: Settings) -> None:
    """The password comes from PGPASSWORD (the supported way): the connection to a port
    nobody listens on fails, named, without it."""
    dsn = f"postgresql://audit@127.0.0.1:{_free_port()}/modelops?connect_timeout=2"
    env = {"MODELOPS_AUDIT_DATABASE_URL": dsn, "PGPASSWORD": SECRET}
    for command in (("audit", "verify"), ("status", "-u", "german_credit")):
        outcome = cli(platform, *command, env=env)
        assert outcome.code == 2, outcome.printed
        assert "127.0.0.1" in outcome.err
        assert SECRET not in outcome.printed
        assert "Traceback" not in outcome.printed


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks/T0/B0/" + SECRET,
        "http://127.0.0.1:{port}/hook?token=" + SECRET,
        "ht!tp://hooks.bank.internal/" + SECRET,
    ],
)
def test_an_undeliverable_alert_does_not_log_the_webhook_url(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = WebhookAlerts(
        url=url.format(port=_free_port()), timeout_seconds=2, fallback_path=str(tmp_path / "a")
    )
    alert = Alert(use_case="german_credit", kind="drift", summary="drifted", owners=("x",))
    with caplog.at_level(logging.DEBUG):
        assert sink.send(alert) == str(tmp_path / "a")
    assert "alert webhook failed" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in (tmp_path / "a").read_text()
