"""Checking an audit chain: in the order the records are stored, every record that breaks it
is named (edited, deleted, reordered, renumbered), and the head catches a cut tail."""

from __future__ import annotations

from collections.abc import Sequence

from modelops.governance.audit_records import (
    GENESIS,
    AuditHead,
    AuditRecord,
    ChainVerification,
    record_hash,
)


def verify_chain(
    records: Sequence[AuditRecord], *, head: AuditHead | None = None
) -> ChainVerification:
    """Check records *in the order they are stored* and name every record that breaks the chain.

    Detects an edited record (content does not match its hash), deleted records (a seq gap),
    reordered records (seq going backwards, prev_hash not linking to the record stored before)
    and, given the `head`, a truncated tail or an end of log rewritten behind the head's back.
    """
    problems: list[str] = []
    implicated: list[int] = []
    present = {record.seq for record in records}
    seen: set[int] = set()
    before: AuditRecord | None = None
    for record in records:
        issues: list[str] = []
        if _hash_or_none(record) != record.hash:
            issues.append("content does not match its hash (edited)")
        expected = before.seq + 1 if before else 1
        after = f"record {before.seq}" if before else "the start of the log"
        in_sequence = record.seq == expected
        if record.seq in seen:
            issues.append(f"appears more than once (stored again after {after})")
        elif record.seq < expected:
            issues.append(f"is stored out of order, after {after}")
        elif record.seq > expected:
            skipped = sorted(s for s in present if expected <= s < record.seq)
            absent = _ranges(expected, record.seq, skipped)
            if absent:
                follows = f"follows {after}" if before else "starts the log"
                problems.append(
                    f"{_describe_ranges(absent)} missing: record {record.seq} {follows}"
                )
                implicated.append(absent[0][0])
            # Skipped records stored further on mean this one was moved forward (or they were
            # moved back); skipped records already seen were reported where they stood.
            later = [s for s in skipped if s not in seen]
            if later:
                issues.append(f"is stored out of order, before {_describe_ranges(_runs(later))}")
        # A broken link is already explained by a seq problem; on its own it means the
        # record was moved or rewritten with a new seq.
        if in_sequence and record.prev_hash != (before.hash if before else GENESIS):
            issues.append(f"prev_hash does not link to {after} (moved or renumbered)")
        if issues:
            problems.append(f"{record.label()}: " + "; ".join(issues))
            implicated.append(record.seq)
        seen.add(record.seq)
        before = record

    if head is not None:
        last = max(records, key=lambda record: record.seq) if records else None
        last_seq = last.seq if last else 0
        if last_seq < head.seq:
            cut = _describe_ranges([(last_seq + 1, head.seq)])
            problems.append(
                f"log ends at record {last_seq} but the head says {head.seq}: {cut} missing "
                "(truncated)"
            )
            implicated.append(last_seq + 1)
        elif last is not None and last_seq > head.seq:
            problems.append(
                f"{last.label()}: beyond the head, which says the log ends at record {head.seq} "
                "(written around the log)"
            )
            implicated.append(head.seq + 1)
        elif last is not None and last.hash != head.hash:
            problems.append(f"{last.label()}: its hash does not match the head's (rewritten)")
            implicated.append(last.seq)

    return ChainVerification(
        checked=len(records),
        problems=tuple(problems),
        first_bad_seq=min(implicated) if implicated else None,
    )


def _hash_or_none(record: AuditRecord) -> str | None:
    # Content planted by hand may not even serialise (NaN, odd types): that is an edit too.
    try:
        return record_hash(record.to_dict())
    except (TypeError, ValueError):
        return None


def _ranges(low: int, high: int, stored: Sequence[int]) -> list[tuple[int, int]]:
    """The seqs in [low, high) that are not in `stored` (sorted), as inclusive ranges."""
    gaps: list[tuple[int, int]] = []
    cursor = low
    for seq in [*stored, high]:
        if seq > cursor:
            gaps.append((cursor, seq - 1))
        cursor = max(cursor, seq + 1)
    return gaps


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seqs as inclusive ranges of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _describe_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    count = sum(last - first + 1 for first, last in ranges)
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
    return f"record {text}" if count == 1 else f"records {text}"
