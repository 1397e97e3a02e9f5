"""A fresh demo back office for one run of the test stories (``desk test``).

A project whose action code has a demo back office (``actions/backoffice/``, run as
``python -m actions.backoffice``) gets its own for each test run: a temporary SQLite database,
migrated and seeded with the deterministic demo company, named to the action server by
``DESK_BACKOFFICE_URL`` and removed afterwards. The stories therefore always meet the same
customers, orders and appointments, and a run never changes the project's own database.

One-time codes are random and e-mailed (the back office's outbox), so a test story types
``{verification_code}`` where the customer types the code: :meth:`ScratchBackoffice.placeholders`
resolves it, at the moment the message is sent, to the code of the newest verification e-mail
(``python -m actions.backoffice latest-code``). The engine never imports the action code: both
commands run as subprocesses in the project directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

URL_ENV = "DESK_BACKOFFICE_URL"
MODULE = "actions.backoffice"
VERIFICATION_CODE = "verification_code"


def has_backoffice(project_dir: Path) -> bool:
    """Whether the project's action code has a demo back office to seed."""
    return (Path(project_dir) / MODULE.replace(".", "/") / "__main__.py").is_file()


class ScratchBackoffice:
    """A seeded back office in a temporary directory; use as a context manager."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = Path(project_dir)
        self.directory: Path | None = None

    @property
    def url(self) -> str:
        assert self.directory is not None, "enter the context first"
        return f"sqlite:///{self.directory / 'backoffice.db'}"

    def _run(self, *args: str) -> str:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(self.project_dir), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run(
            [sys.executable, "-m", MODULE, *args, "--url", self.url],
            cwd=self.project_dir, env=env, capture_output=True, text=True, timeout=120,
        )
        if done.returncode != 0:
            raise ValueError(f"python -m {MODULE} {args[0]} failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout.strip()

    def latest_code(self) -> str:
        """The code of the newest verification e-mail (``ValueError`` when none was sent)."""
        return self._run("latest-code")

    def placeholders(self) -> dict[str, Callable[[], str]]:
        """What a test story's user text may name in braces, and how to fill it in."""
        return {VERIFICATION_CODE: self.latest_code}

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """``DESK_BACKOFFICE_URL`` names this back office for processes started meanwhile."""
        before = os.environ.get(URL_ENV)
        os.environ[URL_ENV] = self.url
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(URL_ENV, None)
            else:
                os.environ[URL_ENV] = before

    def __enter__(self) -> "ScratchBackoffice":
        self.directory = Path(tempfile.mkdtemp(prefix="desk-test-backoffice-"))
        try:
            print(self._run("seed"), flush=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
