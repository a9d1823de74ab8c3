"""The decision log on real files: what is appended is read back typed, from every writer
file of the day; a day rolls over to a new folder; a torn last line is skipped and counted;
concurrent appends never interleave; old days are pruned; a failed write does not cost the
next request its line."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from modelops.ml.scoring.applications import ReasonCode
from modelops.monitoring import decision_log
from modelops.monitoring.decision_log import (
    DecisionLog,
    DecisionRecord,
    prune_decisions,
    read_decisions,
)
from modelops.settings import Settings, SettingsError
from support import PROJECT

UC = "german_credit"
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def _record(i: int, at: datetime = NOON, **changes: object) -> DecisionRecord:
    fields: dict[str, object] = {
        "request_id": f"req{i}",
        "decision_id": f"req{i}-0",
        "decided_at": at,
        "use_case": UC,
        "model_version": "1",
        "application_id": f"A{i}",
        "inputs": {"duration_months": 12 + i, "purpose": "car", "credit_amount": 1000.5},
        "probability": 0.1 + i / 1000,
        "decision": "accept",
        "reasons": (ReasonCode(feature="duration_months", contribution=0.4),),  # the core's
        "outlier_score": 0.2,
        "outlier_flag": False,
        "fallback_reason": None,
    }
    return DecisionRecord.model_validate({**fields, **changes})


def _files(directory: Path, day: date) -> list[Path]:
    return sorted((directory / UC / day.isoformat()).glob("*.jsonl"))


def test_records_from_several_writers_read_back_as_one_typed_table(tmp_path: Path) -> None:
    first, second = DecisionLog(tmp_path, UC), DecisionLog(tmp_path, UC)
    first.append([_record(0), _record(2, NOON + timedelta(seconds=2))])
    second.append([_record(1, NOON + timedelta(seconds=1))])
    second.append(
        [
            _record(
                3,
                NOON + timedelta(seconds=3),
                probability=None,
                decision="refer",
                reasons=(),
                outlier_score=None,
                outlier_flag=None,
                fallback_reason="stopped: model risk",
            )
        ]
    )
    first.close()
    second.close()

    read = read_decisions(tmp_path, UC, NOON.date())
    table = read.decisions
    assert (read.files, read.torn_lines) == (2, 0)
    assert table["request_id"].to_list() == ["req0", "req1", "req2", "req3"]  # time order
    assert table.schema["decided_at"] == pl.Datetime("us", "UTC")
    assert table.schema["probability"] == pl.Float64
    assert table.schema["outlier_flag"] == pl.Boolean
    assert table["reason_1"].to_list() == ["duration_months"] * 3 + [None]
    assert table["reason_1_contribution"][0] == pytest.approx(0.4)
    assert table["reason_2"].null_count() == 4
    assert table["fallback_reason"].to_list() == [None, None, None, "stopped: model risk"]
    assert json.loads(table["inputs"][1]) == {
        "credit_amount": 1000.5,
        "duration_months": 13,
        "purpose": "car",
    }


def test_the_file_is_named_per_host_process_and_start(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, UC)
    log.append([_record(0)])
    (file,) = _files(tmp_path, NOON.date())
    host, pid, start = file.stem.rsplit("-", 2)
    assert host and int(pid) == os.getpid() and int(start) > 0
    assert file.read_text().count("\n") == 1


def test_reasons_may_be_given_as_pairs_and_times_are_kept_in_utc(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=1))
    record = _record(0, datetime(2025, 3, 15, 0, 30, tzinfo=paris), reasons=[("purpose", -0.2)])
    assert [(r.feature, r.contribution) for r in record.reasons] == [("purpose", -0.2)]
    assert record.decided_at == datetime(2025, 3, 14, 23, 30, tzinfo=UTC)
    DecisionLog(tmp_path, UC).append([record])
    assert read_decisions(tmp_path, UC, date(2025, 3, 14)).decisions.height == 1  # UTC day


def test_a_time_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _record(0, datetime(2025, 3, 14, 12, 0))


def test_a_day_rolls_over_to_a_new_folder(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, UC)
    late = datetime(2025, 3, 14, 23, 59, 59, tzinfo=UTC)
    log.append([_record(0, late)])
    log.append([_record(1, late + timedelta(seconds=2)), _record(2, late + timedelta(seconds=3))])
    log.append([_record(3, late - timedelta(seconds=1))])  # a late writer of the old day
    assert read_decisions(tmp_path, UC, date(2025, 3, 14)).decisions["request_id"].to_list() == [
        "req3",
        "req0",
    ]
    assert read_decisions(tmp_path, UC, date(2025, 3, 15)).decisions["request_id"].to_list() == [
        "req1",
        "req2",
    ]


def test_a_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, UC)
    log.append([_record(i) for i in range(5)])
    (file,) = _files(tmp_path, NOON.date())
    whole = _record(5).model_dump_json().encode()
    with file.open("ab") as out:  # a writer killed half-way through its line
        out.write(whole[: len(whole) // 2])
    (file.parent / "other-writer.jsonl").write_bytes(b"\n\n{not json\n")
    read = read_decisions(tmp_path, UC, NOON.date())
    assert read.decisions.height == 5
    assert (read.torn_lines, read.files) == (2, 2)


def test_a_day_without_decisions_is_an_empty_table_with_the_columns(tmp_path: Path) -> None:
    read = read_decisions(tmp_path, UC, NOON.date(), top_k=2)
    assert read.decisions.height == 0 and read.files == 0
    assert "reason_2_contribution" in read.decisions.columns
    assert "reason_3" not in read.decisions.columns


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, UC)
    threads, each = 8, 150

    def serve(worker: int) -> None:
        for i in range(each):
            n = worker * each + i
            log.append([_record(n), _record(n, decision_id=f"req{n}-1")])

    pool = [threading.Thread(target=serve, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    read = read_decisions(tmp_path, UC, NOON.date())
    assert read.torn_lines == 0
    assert read.decisions["decision_id"].n_unique() == threads * each * 2


def test_fsync_flushes_every_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    DecisionLog(tmp_path, UC).append([_record(0)])
    assert synced == []
    log = DecisionLog(tmp_path, UC, fsync=True)
    log.append([_record(1)])
    log.append([_record(2)])
    assert len(synced) == 2
    assert read_decisions(tmp_path, UC, NOON.date()).decisions.height == 3


def test_a_failed_write_costs_only_its_own_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full half-way through a line: that append raises (the service answers 503), and
    the next request's line still starts on a line of its own."""
    log = DecisionLog(tmp_path, UC)
    log.append([_record(0)])
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        monkeypatch.setattr(os, "write", real_write)
        real_write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space"):
        log.append([_record(1)])
    log.append([_record(2)])
    read = read_decisions(tmp_path, UC, NOON.date())
    assert read.decisions["request_id"].to_list() == ["req0", "req2"]
    assert read.torn_lines == 1


def test_days_older_than_the_retention_are_pruned(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, UC)
    today = date(2025, 6, 30)
    for age in (0, 399, 400, 401, 800):
        log.append([_record(age, datetime.combine(today, NOON.time(), UTC) - timedelta(age))])
    (tmp_path / UC / "not-a-day").mkdir()
    deleted = prune_decisions(tmp_path, UC, keep_days=400, today=today)
    assert deleted == [today - timedelta(800), today - timedelta(401), today - timedelta(400)]
    kept = sorted(p.name for p in (tmp_path / UC).iterdir())
    assert kept == sorted([*(str(today - timedelta(a)) for a in (0, 399)), "not-a-day"])
    assert decision_log.decision_days(tmp_path, UC) == [today - timedelta(399), today]
    assert prune_decisions(tmp_path / "nowhere", UC, keep_days=400, today=today) == []
    with pytest.raises(ValueError, match="keep_days"):
        prune_decisions(tmp_path, UC, keep_days=0, today=today)


# --- where the log lives, and the fsync switch (MODELOPS_DECISION_LOG_*) -------------------


def _settings(tmp_path: Path, **extra: str) -> Settings:
    home = str(tmp_path / "home")
    return Settings.from_env({"MODELOPS_PROJECT_DIR": str(PROJECT), "MODELOPS_HOME": home, **extra})


def test_the_log_lives_under_the_home_unless_moved_and_fsync_is_off_by_default(
    tmp_path: Path,
) -> None:
    default = _settings(tmp_path)
    assert default.decision_log_dir == (tmp_path / "home").resolve() / "decisions"
    assert default.decision_log_fsync is False
    moved = _settings(
        tmp_path, MODELOPS_DECISION_LOG_DIR=str(tmp_path / "vol"), MODELOPS_DECISION_LOG_FSYNC="1"
    )
    assert moved.decision_log_dir == (tmp_path / "vol").resolve()
    assert moved.decision_log_fsync is True


def test_a_bad_fsync_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"MODELOPS_DECISION_LOG_FSYNC.*must be 0 or 1"):
        _settings(tmp_path, MODELOPS_DECISION_LOG_FSYNC="always")
