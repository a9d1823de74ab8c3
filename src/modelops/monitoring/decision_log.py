"""The decision log: every online decision, kept before it is answered.

A bank must be able to say, for any application, what the model answered, with which
version, on which inputs and why. The service appends one JSON line per decision to a file of
its own under `<dir>/<use case>/<YYYY-MM-DD>/` (one file per process and day, so several
workers and pods never share a file) with a single `os.write` on a file opened `O_APPEND`,
and only then sends the response. The guarantee:

- once `append` returns, the lines are in the kernel: a service killed at any point after
  (SIGKILL included) loses no decision it answered;
- with `fsync=True` (`MODELOPS_DECISION_LOG_FSYNC=1`) they are also on the disk, which
  survives a host crash, at the cost docs/serving.md measures;
- a process killed *during* the write leaves at most one torn last line, which the reader
  skips and counts (that request was never answered);
- a failed write (disk full) raises, so the service answers 503, and the next append starts
  on a fresh line: only the refused request's line can be torn.

Days older than the spec's `serving.decision_log_retention_days` are deleted by
`prune_decisions` (the Dagster asset of online decisions calls it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

Value = str | int | float | bool | None
DAY_FORMAT = "%Y-%m-%d"


class LoggedReason(BaseModel):
    """A reason code as kept: the fields of `modelops.ml.scoring.applications.ReasonCode`
    (not imported: reading the log must not load the scoring core's ML libraries into the
    Dagster code location)."""

    model_config = ConfigDict(frozen=True)

    feature: str
    contribution: float


class DecisionRecord(BaseModel):
    """One online decision, as kept."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    decided_at: AwareDatetime
    """When the answer was made; kept in UTC (the day folder is the UTC day)."""
    use_case: str
    model_version: str | None
    application_id: str | None
    inputs: dict[str, Value]
    """The application as validated (a value that broke the contract is null)."""
    probability: float | None
    decision: str
    reasons: tuple[LoggedReason, ...] = ()
    """Strongest first: the feature and its push on the log-odds."""
    outlier_score: float | None = None
    outlier_flag: bool | None = None
    fallback_reason: str | None = None
    decision_id: str | None = None
    """`<request_id>-<index>`: the answer's key when a request carries several applications."""

    @field_validator("reasons", mode="before")
    @classmethod
    def _reason_codes(cls, value: object) -> object:
        """Accepts the scoring core's `ReasonCode`s or `(feature, contribution)` pairs."""
        if not isinstance(value, list | tuple):
            return value
        return tuple(
            {"feature": r[0], "contribution": r[1]}
            if isinstance(r, list | tuple) and len(r) == 2
            else {"feature": r.feature, "contribution": r.contribution}
            if hasattr(r, "feature") and hasattr(r, "contribution")
            else r
            for r in value
        )

    @field_validator("decided_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class DecisionLog:
    """Appends one process's decisions of a use case; thread-safe."""

    def __init__(self, directory: Path, use_case: str, *, fsync: bool = False) -> None:
        self.directory = Path(directory) / use_case
        self.fsync = fsync
        self._name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}.jsonl"
        self._lock = threading.Lock()
        self._day: str | None = None
        self._fd: int | None = None
        self._torn = False

    def append(self, records: Sequence[DecisionRecord]) -> None:
        """Write every record before returning (raises OSError when it cannot: the caller
        must then not answer as if the decision were kept)."""
        if not records:
            return
        by_day: dict[str, list[bytes]] = {}
        for record in records:
            day = record.decided_at.astimezone(UTC).strftime(DAY_FORMAT)
            by_day.setdefault(day, []).append(record.model_dump_json().encode() + b"\n")
        with self._lock:
            for day, lines in by_day.items():
                fd = self._file(day)
                # After a failed write (disk full) the file may end mid-line: start on a
                # fresh line, so only the unanswered request's line is torn.
                data = (b"\n" if self._torn else b"") + b"".join(lines)
                self._torn = True
                while data:  # one write in practice; a short write continues the same lines
                    written = os.write(fd, data)
                    data = data[written:]
                if self.fsync:
                    os.fsync(fd)
                self._torn = False

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _file(self, day: str) -> int:
        if self._day != day or self._fd is None:
            if self._fd is not None:
                os.close(self._fd)
            folder = self.directory / day
            folder.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(folder / self._name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            self._day = day
            self._torn = False
        return self._fd


@dataclass(frozen=True)
class DecisionDay:
    """One day's decisions read back: a table, and what could not be read."""

    decisions: pl.DataFrame
    torn_lines: int
    """Lines that are not a whole record (a process killed while writing)."""
    files: int


def decision_schema(top_k: int = 3) -> pl.Schema:
    return pl.Schema(
        {
            "decision_id": pl.String,
            "request_id": pl.String,
            "decided_at": pl.Datetime("us", "UTC"),
            "model_version": pl.String,
            "application_id": pl.String,
            "probability": pl.Float64,
            "decision": pl.String,
            **{f"reason_{i}": pl.String for i in range(1, top_k + 1)},
            **{f"reason_{i}_contribution": pl.Float64 for i in range(1, top_k + 1)},
            "outlier_score": pl.Float64,
            "outlier_flag": pl.Boolean,
            "fallback_reason": pl.String,
            "inputs": pl.String,
        }
    )


def read_decisions(directory: Path, use_case: str, day: date, *, top_k: int = 3) -> DecisionDay:
    """Every decision kept on `day` (UTC) by any process, in decision time order."""
    folder = Path(directory) / use_case / day.strftime(DAY_FORMAT)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    rows: list[dict[str, object]] = []
    torn = 0
    for file in files:
        with file.open("rb") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    record = DecisionRecord.model_validate_json(line)
                except ValueError:  # a torn line: its writer was killed while writing
                    torn += 1
                    continue
                rows.append(_row(record, top_k))
    frame = pl.DataFrame(rows, schema=decision_schema(top_k), orient="row")
    return DecisionDay(frame.sort("decided_at", "decision_id", nulls_last=True), torn, len(files))


def _row(record: DecisionRecord, top_k: int) -> dict[str, object]:
    reasons: list[tuple[str | None, float | None]] = [
        (r.feature, r.contribution) for r in record.reasons[:top_k]
    ]
    reasons += [(None, None)] * (top_k - len(reasons))
    return {
        "decision_id": record.decision_id,
        "request_id": record.request_id,
        "decided_at": record.decided_at.astimezone(UTC),
        "model_version": record.model_version,
        "application_id": record.application_id,
        "probability": record.probability,
        "decision": record.decision,
        **{f"reason_{i + 1}": r[0] for i, r in enumerate(reasons)},
        **{f"reason_{i + 1}_contribution": r[1] for i, r in enumerate(reasons)},
        "outlier_score": record.outlier_score,
        "outlier_flag": record.outlier_flag,
        "fallback_reason": record.fallback_reason,
        "inputs": json.dumps(record.inputs, sort_keys=True),
    }


def decision_days(directory: Path, use_case: str) -> list[date]:
    """The days that have a folder of decisions."""
    root = Path(directory) / use_case
    days = []
    for folder in root.iterdir() if root.is_dir() else []:
        try:
            days.append(datetime.strptime(folder.name, DAY_FORMAT).date())
        except ValueError:
            continue
    return sorted(days)


def prune_decisions(directory: Path, use_case: str, *, keep_days: int, today: date) -> list[date]:
    """Delete the days older than `keep_days` before `today`; the days deleted."""
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, got {keep_days}")
    oldest_kept = today - timedelta(days=keep_days - 1)
    deleted = [d for d in decision_days(directory, use_case) if d < oldest_kept]
    for day in deleted:
        shutil.rmtree(Path(directory) / use_case / day.strftime(DAY_FORMAT))
    return deleted
