"""Progress reporting for long steps, shown as rich progress bars on a terminal."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


class Progress:
    """Reports nothing; the base for reporters and the default in library use and tests."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        yield lambda n=1: None


class RichProgress(Progress):
    """Bars on stderr when it is a terminal; one line per finished step otherwise."""

    def __init__(self):
        from rich.console import Console

        self.console = Console(stderr=True)

    @contextmanager
    def step(self, description, total=None):
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        started = time.perf_counter()
        if self.console.is_terminal:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
            with Bars(*columns, console=self.console, transient=False) as bars:
                task = bars.add_task(description, total=total)
                yield lambda n=1: bars.advance(task, n)
                bars.update(task, completed=total or 1, total=total or 1)
        else:
            yield lambda n=1: None
            self.console.print(f"{description}: done in {time.perf_counter() - started:.1f} s")


def default_progress() -> Progress:
    return RichProgress() if sys.stderr is not None else Progress()
