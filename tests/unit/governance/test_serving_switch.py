"""The stop switch and what production scores with, on a real SQLite audit log and a real
artifact store holding a real serving bundle (built from a pipeline fitted on the German
credit data) written and recorded as training does."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.governance.audit_records import AuditEvent
from modelops.governance.serving_switch import (
    STOPPED_REASON_PREFIX,
    SwitchRefused,
    current_stop,
    production_model,
    resume_scoring,
    scoring_line,
    stop_scoring,
    unavailable_reason,
)
from modelops.ml.model_integrity import files_digest
from modelops.ml.month_answers import MODEL_UNAVAILABLE, NO_CHAMPION
from modelops.ml.serving_bundle import ServingBundle
from modelops.ml.training import fit_model
from modelops.names import MODEL, SERVING_BUNDLE_PREFIX
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.storage import LocalArtifactStore
from modelops.spec import UseCaseSpec

UC = "german_credit"
OPS = "ops@bank.example"


@pytest.fixture(scope="module")
def bundle_files(german_spec: UseCaseSpec, german_split) -> dict[str, bytes]:
    train, holdout = german_split
    bundle = ServingBundle.build(
        german_spec,
        model_version="1",
        pipeline=fit_model(train, german_spec),
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )
    return bundle.to_files()


class Platform:
    """An audit log and a store, with version 1 trained (its bundle recorded) on demand."""

    def __init__(self, home: Path) -> None:
        self.log = SqliteAuditLog(path=str(home / "audit.db"))
        self.store = LocalArtifactStore(root=str(home / "data"))
        self.home = home

    def record(self, event: str, version: str | None = "1", **details: str) -> None:
        self.log.append(
            AuditEvent(
                event=event,
                actor="dagster:run/abc",
                use_case=UC,
                reason=event,
                model_version=version,
                details=details,
            )
        )

    def champion(self, files: dict[str, bytes], *, recorded: bool = True) -> None:
        for name, content in files.items():
            self.store.write_bytes(UC, MODEL, "1", f"{SERVING_BUNDLE_PREFIX}{name}", content)
        if recorded:
            self.record("training", serving_bundle_sha256=files_digest(files))
        self.record("promotion")

    def bundle_file(self, name: str) -> Path:
        return self.home / "data" / UC / MODEL / "1" / f"{SERVING_BUNDLE_PREFIX}{name}"


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return Platform(tmp_path)


def test_stop_and_resume_are_recorded_and_replayed_from_the_log(platform: Platform) -> None:
    assert current_stop(platform.log, UC) is None
    stop_scoring(platform.log, UC, by=OPS, reason="INC-7\nforged line")
    stop = current_stop(platform.log, UC)
    assert stop is not None and (stop.actor, stop.reason) == (OPS, "INC-7\nforged line")
    assert stop.fallback_reason.startswith(f"{STOPPED_REASON_PREFIX} by {OPS} at ")
    assert current_stop(platform.log, "other_use_case") is None  # per use case
    with pytest.raises(SwitchRefused, match="already stopped"):
        stop_scoring(platform.log, UC, by=OPS, reason="again")
    resume_scoring(platform.log, UC, by=OPS, reason="fixed")
    assert current_stop(platform.log, UC) is None
    with pytest.raises(SwitchRefused, match="not stopped"):
        resume_scoring(platform.log, UC, by=OPS, reason="again")
    events = [r.event for r in platform.log.records(use_case=UC)]
    assert events == ["scoring_stopped", "scoring_resumed"]  # refusals change nothing
    assert platform.log.verify().ok


def test_an_intact_champion_is_scored_with(platform: Platform, bundle_files, german_spec) -> None:
    platform.champion(bundle_files)
    model = production_model(platform.store, platform.log, german_spec)
    assert model.bundle is not None and model.bundle.model_version == "1"
    assert (model.version, model.fallback_reason, model.unavailable) == ("1", None, False)
    assert scoring_line(platform.log, german_spec, platform.store) == "answering (champion v1)"


def test_a_stopped_use_case_answers_the_fallback_with_who_and_why(
    platform: Platform, bundle_files, german_spec
) -> None:
    platform.champion(bundle_files)
    stop_scoring(platform.log, UC, by=OPS, reason="odd scores\nscoring: answering")
    model = production_model(platform.store, platform.log, german_spec)
    assert model.bundle is None and model.version == "1" and not model.unavailable
    assert model.fallback_reason is not None
    assert model.fallback_reason.startswith(f"scoring stopped by {OPS} at ")
    assert model.fallback_reason.endswith(": odd scores\nscoring: answering")
    line = scoring_line(platform.log, german_spec, platform.store)
    assert line.startswith(f"STOPPED by '{OPS}' at ")
    assert line.endswith(": 'odd scores\\nscoring: answering'")  # quoted: one line
    resume_scoring(platform.log, UC, by=OPS, reason="checked")
    assert production_model(platform.store, platform.log, german_spec).bundle is not None


def test_no_champion_is_the_no_champion_fallback(platform: Platform, german_spec) -> None:
    model = production_model(platform.store, platform.log, german_spec)
    assert (model.version, model.bundle, model.fallback_reason) == (None, None, NO_CHAMPION)
    assert not model.unavailable
    assert scoring_line(platform.log, german_spec) == f"answering 'refer' throughout: {NO_CHAMPION}"


@pytest.mark.parametrize("damage", ["tampered", "deleted", "unrecorded"])
def test_a_champion_that_cannot_be_loaded_is_unavailable_with_the_reason(
    platform: Platform, bundle_files, german_spec, damage: str
) -> None:
    platform.champion(bundle_files, recorded=damage != "unrecorded")
    if damage == "tampered":
        with platform.bundle_file("pipeline.skops").open("ab") as handle:
            handle.write(b"\x00tampered")
    elif damage == "deleted":
        platform.bundle_file("reason_codes.npz").unlink()
    model = production_model(platform.store, platform.log, german_spec)
    assert model.bundle is None and model.version == "1" and model.unavailable
    reason = model.fallback_reason or ""
    assert reason.startswith(f"{MODEL_UNAVAILABLE}: version 1: "), reason
    expected = {
        "tampered": "ModelIntegrityError: serving bundle of version 1: pipeline.skops",
        "deleted": "reason_codes.npz",
        "unrecorded": "MissingServingBundleError",
    }[damage]
    assert expected in reason and "\n" not in reason
    line = scoring_line(platform.log, german_spec, platform.store)
    assert line.startswith(f"answering 'refer' throughout: {MODEL_UNAVAILABLE}: version 1: ")


def test_an_unavailable_reason_is_one_bounded_line_without_secrets() -> None:
    error = OSError("cannot reach postgresql://svc:hunter2@db:5432/store\n" + "x" * 2_000)
    reason = unavailable_reason("4", error)
    assert reason.startswith("model unavailable: version 4: OSError: cannot reach postgresql://")
    assert "hunter2" not in reason and "\n" not in reason and len(reason) < 400
