"""The audit log's record format and chain on their own, without a database: how a record is
chained to the head, stored as a row, exported and read back, and how `verify_chain` names the
record that breaks the chain. The backends that store it are tested in
tests/unit/resources/test_audit_log.py.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from modelops.governance.audit_chain import verify_chain
from modelops.governance.audit_records import (
    COLUMNS,
    GENESIS,
    AuditEvent,
    AuditHead,
    AuditRecord,
    canonical_json,
    load_jsonl,
    next_record,
    plain_json,
    record_hash,
    record_row,
    row_record,
)

UC = "german_credit"
RECORDED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
KINDS = ("training", "gate_result", "approval", "promotion", "alert", "retraining_trigger")


def _event(index: int) -> AuditEvent:
    return AuditEvent(
        event=KINDS[index % len(KINDS)],
        actor="anna.risk@bank.example" if index % 2 else "dagster:german_credit_retraining",
        use_case=UC,
        reason=f"step {index}",
        model_version=str(index),
        data_versions={"training_set": f"fp{index}", "holdout_set": f"hp{index}"},
        code_version="git:abc123",
        details={"index": index, "auc": 0.7 + index / 100, "segments": ("a", "b")},
    )


def _chain(count: int) -> list[AuditRecord]:
    """Records 1..count as a backend appends them: each chained to the head before it."""
    records: list[AuditRecord] = []
    head = AuditHead(0, GENESIS)
    for index in range(1, count + 1):
        record = next_record(_event(index), head)
        records.append(record)
        head = AuditHead(record.seq, record.hash)
    return records


def _head(record: AuditRecord) -> AuditHead:
    return AuditHead(record.seq, record.hash)


def test_an_event_needs_an_actor() -> None:
    with pytest.raises(ValueError, match="actor"):
        AuditEvent(event="approval", actor=" ", use_case=UC)


def test_the_next_record_is_chained_to_the_head_and_hashed_over_every_field() -> None:
    first, second = _chain(2)

    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert first.hash == record_hash(first.to_dict())
    assert RECORDED_AT.match(first.recorded_at)
    assert first.details == {"index": 1, "auc": 0.71, "segments": ["a", "b"]}
    assert first.data_versions == {"training_set": "fp1", "holdout_set": "hp1"}
    # seq and prev_hash are hashed too: the same content elsewhere in the chain does not match.
    assert record_hash({**first.to_dict(), "seq": 5}) != first.hash
    assert record_hash({**first.to_dict(), "prev_hash": second.hash}) != first.hash


def test_canonical_json_is_one_serialisation() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})  # plain_json turns NaN into text before hashing


class _Tier(enum.Enum):
    HIGH = "high"


def test_details_become_plain_json_so_what_is_hashed_is_what_is_read_back() -> None:
    details = {
        "nan": math.nan,
        "inf": (math.inf, -math.inf),
        "when": datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        "day": date(2026, 5, 1),
        "tier": _Tier.HIGH,
        "path": Path("/data/train.parquet"),
        "auc": np.float64(0.75),
        "rows": np.int64(1000),
        1: "key made text",
    }

    assert plain_json(details, "details") == {
        "nan": "NaN",
        "inf": ["Infinity", "-Infinity"],
        "when": "2026-05-01T09:30:00+00:00",
        "day": "2026-05-01",
        "tier": "high",
        "path": "/data/train.parquet",
        "auc": 0.75,
        "rows": 1000,
        "1": "key made text",
    }
    with pytest.raises(TypeError, match=r"audit details\.model\[0\] is not JSON-serialisable"):
        plain_json({"model": [object()]}, "details")


def test_a_record_survives_its_row_and_its_export_line(tmp_path: Path) -> None:
    records = _chain(3)

    rows = [record_row(record) for record in records]
    assert all(len(row) == len(COLUMNS) for row in rows)
    assert all(isinstance(row[COLUMNS.index("details")], str) for row in rows)
    assert [row_record(row) for row in rows] == records

    export = tmp_path / "audit.jsonl"
    lines = [canonical_json(record.to_dict()) for record in records]
    export.write_text("\n".join([lines[0], "", *lines[1:]]) + "\n", encoding="utf-8")
    assert load_jsonl(export) == records
    assert verify_chain(load_jsonl(export), head=_head(records[-1])).ok


def test_a_row_whose_json_was_mangled_reads_back_as_an_edit() -> None:
    first, second = _chain(2)
    row = list(record_row(second))
    row[COLUMNS.index("details")] = "{not json"

    mangled = row_record(row)

    assert mangled.details == {"<unreadable>": "{not json"}
    result = verify_chain([first, mangled])
    assert result.first_bad_seq == 2
    assert result.problems[0].endswith("content does not match its hash (edited)")


def test_an_intact_chain_and_its_head_verify() -> None:
    records = _chain(4)

    result = verify_chain(records, head=_head(records[-1]))

    assert (result.ok, result.checked, result.problems, result.first_bad_seq) == (True, 4, (), None)
    assert result.text() == "audit log intact: 4 records, chain and head agree"
    assert verify_chain([], head=AuditHead(0, GENESIS)).ok  # an empty log is a valid log


def test_verify_chain_names_records_moved_to_the_end() -> None:
    """Records 3 and 4 deleted and written again after 6: stored 1, 2, 5, 6, 3, 4."""
    by_seq = {record.seq: record for record in _chain(6)}

    result = verify_chain([by_seq[seq] for seq in (1, 2, 5, 6, 3, 4)])

    assert result.first_bad_seq == 3
    assert [problem.split(" (")[0] for problem in result.problems] == ["record 5", "record 3"]
    assert result.problems[0].endswith("is stored out of order, before records 3-4")
    assert result.problems[1].endswith("is stored out of order, after record 6")


def test_verify_chain_catches_records_renumbered_with_recomputed_hashes() -> None:
    """Deleting record 3 and renumbering the rest, each rehashed: only the links betray it."""
    kept = [record for record in _chain(5) if record.seq != 3]
    forged = []
    for record in kept:
        moved = replace(record, seq=record.seq - 1 if record.seq > 3 else record.seq)
        forged.append(replace(moved, hash=record_hash(moved.to_dict())))

    result = verify_chain(forged)

    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.problems[0].startswith("record 3 (alert, german_credit, ")
    assert result.problems[0].endswith("prev_hash does not link to record 2 (moved or renumbered)")


def test_verify_chain_names_a_missing_start_and_a_record_stored_twice() -> None:
    records = _chain(3)

    missing_start = verify_chain(records[1:])
    assert missing_start.problems == ("record 1 missing: record 2 starts the log",)
    assert missing_start.first_bad_seq == 1

    twice = verify_chain([*records, records[1]])
    assert twice.first_bad_seq == 2
    assert len(twice.problems) == 1, twice.problems
    assert twice.problems[0].endswith("appears more than once (stored again after record 3)")
    assert twice.text().startswith("audit log TAMPERED (1 problems): record 2 (")


def test_the_head_catches_a_cut_tail_a_record_written_around_it_and_a_rewritten_end() -> None:
    records = _chain(4)
    head = _head(records[-1])

    cut = verify_chain(records[:2], head=head)
    assert cut.problems == (
        "log ends at record 2 but the head says 4: records 3-4 missing (truncated)",
    )
    assert cut.first_bad_seq == 3

    around = verify_chain(records, head=_head(records[2]))
    assert around.first_bad_seq == 4
    assert around.problems[0].endswith(
        "beyond the head, which says the log ends at record 3 (written around the log)"
    )

    rewritten = verify_chain(records, head=AuditHead(4, "f" * 64))
    assert rewritten.first_bad_seq == 4
    assert rewritten.problems[0].endswith("its hash does not match the head's (rewritten)")


def test_content_that_cannot_be_serialised_counts_as_an_edit() -> None:
    first, second = _chain(2)
    planted = replace(second, details={"x": math.nan})  # not canonical JSON: cannot be hashed

    result = verify_chain([first, planted])

    assert result.first_bad_seq == 2
    assert result.problems[0].endswith("content does not match its hash (edited)")
    assert json.loads(canonical_json(first.to_dict()))["hash"] == first.hash
