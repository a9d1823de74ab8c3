"""A tampered model cannot be released: approve, promote and rollback verify the stored
artifacts (the registered model files and the serving bundle) against the digests the audit
log's training record holds, refuse with exit 3 when they differ, record the refusal, and
leave the champion where it was.

One platform is trained for the module with `modelops run`, twice: version 1 approved (the
champion), version 2 the challenger. Each test works on a copy of the platform home (its own
audit log and registry) and tampers with the artifact store as an attacker with write access
to it would (bytes appended to a file); the file is put back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from modelops.names import MODEL, SERVING_BUNDLE_PREFIX
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.tracking import DIGEST_TAG
from modelops.settings import Settings
from support import copy_german_spec, make_settings
from support.platform_cli import cli, copy_platform

UC = "german_credit"
TRAINER = {"MODELOPS_ACTOR": "trainer@bank.example"}
VALIDATOR = ("--by", "val@bank.example", "--role", "model_validator")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Version 1 champion (approved by a validator), version 2 challenger."""
    root = tmp_path_factory.mktemp("released")
    copy_german_spec(root / "specs")
    settings = make_settings(root, root / "specs")
    assert cli(settings, "run", env=TRAINER).code == 0
    assert cli(settings, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-1").code == 0
    second = cli(settings, "run", env=TRAINER)
    assert second.code == 0, second.printed
    return settings


@pytest.fixture
def platform(released: Settings, tmp_path: Path) -> Settings:
    return copy_platform(released, tmp_path)


def _model_file(settings: Settings, version: str) -> Path:
    """The registered model's serialized estimator as the artifact store holds it."""
    from mlflow import MlflowClient

    client = MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    uri = client.get_model_version_download_uri(UC, version)
    return Path(unquote(urlsplit(uri).path)) / "model.skops"


def _bundle_file(settings: Settings, version: str, name: str) -> Path:
    return settings.data_dir / UC / MODEL / version / f"{SERVING_BUNDLE_PREFIX}{name}"


@pytest.fixture
def tamper() -> Iterator[Callable[[Path], None]]:
    """Append bytes to a stored file; put it back afterwards (a copied platform's MLflow
    store still points at the module platform's artifacts)."""
    originals: dict[Path, bytes] = {}

    def append(file: Path) -> None:
        assert file.is_file(), file
        originals.setdefault(file, file.read_bytes())
        with file.open("ab") as handle:
            handle.write(b"\x00tampered")

    yield append
    for file, content in originals.items():
        file.write_bytes(content)


def _last_record(settings: Settings):
    return SqliteAuditLog(path=str(settings.audit_log_path)).records(use_case=UC)[-1]


def _assert_refused(settings: Settings, outcome, version: str, what: str) -> None:
    assert outcome.code == 3, outcome.printed
    assert f"{UC} version {version} cannot be released" in outcome.err
    assert what in outcome.err
    assert "Traceback" not in outcome.printed
    refusal = _last_record(settings)
    assert refusal.event == "refusal"
    assert refusal.model_version == version
    assert "cannot be released" in refusal.reason


def _champion(settings: Settings) -> str:
    return cli(settings, "status", "-u", UC).out.splitlines()[0]


def test_an_untampered_challenger_is_approved(platform: Settings) -> None:
    """The control: the same approval the other tests make succeeds on intact artifacts."""
    outcome = cli(platform, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2")
    assert outcome.code == 0, outcome.printed
    assert "champion v2" in _champion(platform)


def test_approve_refuses_a_model_file_changed_after_training(
    platform: Settings, tamper: Callable[[Path], None]
) -> None:
    tamper(_model_file(platform, "2"))
    outcome = cli(platform, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2")
    _assert_refused(platform, outcome, "2", "a file of the model was changed after training")
    assert "champion v1, challenger v2" in _champion(platform)
    assert not [r for r in SqliteAuditLog(path=str(platform.audit_log_path)).records(
        use_case=UC, events=["approval"]) if r.model_version == "2"]  # fmt: skip


def test_approve_refuses_a_registry_whose_digest_tag_was_edited_to_match(
    platform: Settings, tamper: Callable[[Path], None]
) -> None:
    """Whoever can write the artifact store may also rewrite the registry's digest tag: the
    audit log's training record is the anchor."""
    from mlflow import MlflowClient

    from modelops.ml.model_integrity import artifact_digest

    model = _model_file(platform, "2")
    tamper(model)
    client = MlflowClient(platform.mlflow_tracking_uri, registry_uri=platform.mlflow_tracking_uri)
    client.set_model_version_tag(UC, "2", DIGEST_TAG, artifact_digest(model.parent))
    outcome = cli(platform, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2")
    _assert_refused(platform, outcome, "2", "the registry was edited")


@pytest.mark.parametrize("name", ["pipeline.skops", "manifest.json"])
def test_approve_refuses_a_serving_bundle_changed_after_training(
    platform: Settings, tamper: Callable[[Path], None], name: str
) -> None:
    tamper(_bundle_file(platform, "2", name))
    outcome = cli(platform, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2")
    _assert_refused(platform, outcome, "2", f"serving_bundle.{name}")
    assert "champion v1, challenger v2" in _champion(platform)


def test_promote_refuses_an_approved_version_tampered_with_before_promotion(
    platform: Settings, tamper: Callable[[Path], None]
) -> None:
    approval = cli(platform, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2", "--no-promote")
    assert approval.code == 0, approval.printed
    tamper(_model_file(platform, "2"))
    outcome = cli(
        platform, "promote", "-u", UC, "--version", "2", "--by", "ops@bank.example",
        "--reason", "go live",
    )  # fmt: skip
    _assert_refused(platform, outcome, "2", "changed after training")
    assert "champion v1" in _champion(platform)


@pytest.mark.parametrize("part", ["model", "bundle"])
def test_rollback_refuses_a_tampered_previous_champion(
    platform: Settings, tamper: Callable[[Path], None], part: str
) -> None:
    assert cli(platform, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2").code == 0
    assert "champion v2" in _champion(platform)
    tamper(
        _model_file(platform, "1")
        if part == "model"
        else _bundle_file(platform, "1", "reason_codes.npz")
    )
    outcome = cli(platform, "rollback", "-u", UC, "--by", "ops@bank.example", "--reason", "back")
    assert outcome.code == 3, outcome.printed
    assert f"{UC} version 1 cannot be released" in outcome.err
    refusal = _last_record(platform)
    assert (refusal.event, refusal.model_version) == ("refusal", "1")
    assert "champion v2" in _champion(platform)
