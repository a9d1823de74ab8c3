"""Progress of long work on the terminal: what is running, how far along, how long so far.

One format for the demo's months, `modelops backfill`, `modelops reproduce` and the
benchmarks, so an operator never watches a silent terminal for a minute:

    [ 3/12  0:41] 2025-03: scoring, drift, labels ...
    [ 3/12  0:44] 2025-03: done in 3.0 s

Plain lines (not a redrawn bar): they read the same in a terminal, a CI log and a file.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def clock_text(seconds: float) -> str:
    """0:41, 12:05, 1:02:03."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Step:
    """The step being run; set `summary` to end it with a line of its own (the demo's month
    line) instead of "<label>: done"."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.summary: str | None = None


class Progress:
    """Steps of known number; each one announced when it starts and timed when it ends.

    `write` takes a line (stderr by default, so a command's answer on stdout stays clean);
    `clock` is injectable so a test can tell the elapsed time it expects."""

    def __init__(
        self,
        total: int,
        *,
        write: Callable[[str], None] = _to_stderr,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total = max(total, 1)
        self.done = 0
        self._running: int | None = None
        self._write = write
        self._clock = clock
        self._started = clock()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def _prefix(self, number: int) -> str:
        width = len(str(self.total))
        return f"[{number:>{width}}/{self.total}  {clock_text(self.elapsed)}]"

    def note(self, text: str) -> None:
        """A line of its own: within a step, numbered as that step; between steps, as the
        steps done so far."""
        self._write(f"{self._prefix(self._running or self.done)} {text}")

    @contextmanager
    def step(self, label: str, *, announce: bool = True) -> Iterator[Step]:
        """Announce `label` (unless `announce` is false: a step short enough that its end
        line says it all), run the block, say how long it took (or that it failed)."""
        number, step = self.done + 1, Step(label)
        self._running = number
        if announce:
            self._write(f"{self._prefix(number)} {label} ...")
        began = self._clock()
        try:
            yield step
        except BaseException:
            self._write(
                f"{self._prefix(number)} {label}: FAILED after {self._clock() - began:.1f} s"
            )
            raise
        finally:
            self._running = None
        self.done = number
        took = self._clock() - began
        ended = (
            f"{step.summary}  ({took:.0f} s)" if step.summary else f"{label}: done in {took:.1f} s"
        )
        self._write(f"{self._prefix(number)} {ended}")
