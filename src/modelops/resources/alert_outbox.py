"""The durable record of every alert delivery: per channel and recipient, whether it arrived,
after how many attempts and with which last error.

An append-only JSON-lines file beside the local alert file: each outcome is one line written
with one `write` (lines never interleave) and flushed to disk, and a retry appends the new
outcome of the same delivery, so the newest line of a delivery is its state. An undelivered
alert is therefore never lost: it is shown (`modelops alerts list --undelivered`) until a
retry (`modelops alerts retry`) delivers it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelops.spec.alert_routes import Channel

OUTBOX_FILE = "alert_outbox.jsonl"
Status = Literal["delivered", "undelivered"]


class Delivery(BaseModel):
    """One delivery of one alert (to one recipient on one channel) as last tried."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    alert: dict[str, Any]
    """The alert as the local alert file keeps it (what a retry sends again)."""
    channel: Channel
    recipient: str
    """An e-mail address, or `webhook` / `log`."""
    people: tuple[str, ...] = ()
    """Whom the alert is for (a webhook post names them)."""
    status: Status
    attempts: int = Field(ge=0)
    """Attempts so far, retries included."""
    last_error: str | None = None
    recorded_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def key(self) -> tuple[str, str, str]:
        return (
            str(self.alert.get("id", self.alert.get("raised_at"))),
            self.channel,
            self.recipient,
        )

    @property
    def use_case(self) -> str:
        return str(self.alert.get("use_case", ""))


def append_line(path: Path, text: str, *, sync: bool = False) -> None:
    """`text` as one line at the end of `path`, in one `write` (lines never interleave); a
    last line a crash left without its newline is ended first, so this one stays whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        size = os.fstat(handle).st_size
        cut = size > 0 and os.pread(handle, 1, size - 1) != b"\n"
        os.write(handle, (("\n" if cut else "") + text + "\n").encode())
        if sync:
            os.fsync(handle)
    finally:
        os.close(handle)


class AlertOutbox:
    """The delivery records of one platform home."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def record(self, delivery: Delivery) -> None:
        append_line(self.path, delivery.model_dump_json(), sync=True)

    def deliveries(self, use_case: str | None = None) -> list[Delivery]:
        """The newest state of every delivery, in the order they were first tried. A line
        that does not parse (a write cut by a crash) is skipped, not fatal."""
        latest: dict[tuple[str, str, str], Delivery] = {}
        for delivery in self._lines():
            if use_case is None or delivery.use_case == use_case:
                latest[delivery.key] = delivery
        return list(latest.values())

    def undelivered(self, use_case: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries(use_case) if d.status == "undelivered"]

    def _lines(self) -> Iterable[Delivery]:
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                yield Delivery.model_validate_json(line)
            except ValidationError:
                continue
