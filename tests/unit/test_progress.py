"""Progress lines: the step, how far along, the elapsed time, and how long each step took."""

import pytest

from modelops.progress import Progress, clock_text

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_step_is_announced_then_timed_with_the_total_elapsed():
    clock, lines = Clock(), []
    progress = Progress(12, write=lines.append, clock=clock)

    with progress.step("2025-01: scoring"):
        clock.now = 41.5
    progress.note("retraining requested")
    clock.now = 3700.0
    with progress.step("2025-02: scoring"):
        clock.now = 3703.25

    assert lines == [
        "[ 1/12  0:00] 2025-01: scoring ...",
        "[ 1/12  0:41] 2025-01: scoring: done in 41.5 s",
        "[ 1/12  0:41] retraining requested",
        "[ 2/12  1:01:40] 2025-02: scoring ...",
        "[ 2/12  1:01:43] 2025-02: scoring: done in 3.2 s",
    ]
    assert progress.done == 2


def test_a_failing_step_says_so_and_is_not_counted_done():
    clock, lines = Clock(), []
    progress = Progress(2, write=lines.append, clock=clock)

    with pytest.raises(RuntimeError), progress.step("reproduction"):
        clock.now = 2.0
        raise RuntimeError("boom")

    assert lines[-1] == "[1/2  0:02] reproduction: FAILED after 2.0 s"
    assert progress.done == 0


def test_clock_text():
    assert [clock_text(s) for s in (0, 59.9, 61, 3600, 3725)] == [
        "0:00",
        "0:59",
        "1:01",
        "1:00:00",
        "1:02:05",
    ]


def test_a_step_can_end_with_its_own_summary_and_notes_carry_its_number():
    clock, lines = Clock(), []
    progress = Progress(12, write=lines.append, clock=clock)
    progress.done = 6

    with progress.step("2025-07", announce=False) as step:
        clock.now = 5.0
        progress.note("2025-07  retraining requested (drift in 3 of the last 3 months) ...")
        clock.now = 81.0
        step.summary = "2025-07  model v1  drifted 40%  BREACH"

    assert lines == [
        "[ 7/12  0:05] 2025-07  retraining requested (drift in 3 of the last 3 months) ...",
        "[ 7/12  1:21] 2025-07  model v1  drifted 40%  BREACH  (81 s)",
    ]
