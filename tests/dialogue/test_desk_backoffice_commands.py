"""``desk backoffice``, ``desk audit verify`` and ``desk approvals``: the back office's command
lines, run in a subprocess of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def desk(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DESK_BACKOFFICE_URL"}
    return subprocess.run([sys.executable, "-m", "dialogue.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_migrate_seed_verify_and_list(tmp_path):
    url = f"sqlite:///{tmp_path / 'backoffice.db'}"
    migrated = desk("backoffice", "migrate", "--url", url)
    assert migrated.returncode == 0, migrated.stderr
    assert "schema at revision" in migrated.stdout
    seeded = desk("backoffice", "seed", "--url", url, "--today", "2025-06-02")
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded" in seeded.stdout and "customers" in seeded.stdout
    again = desk("backoffice", "seed", "--url", url)
    assert again.returncode == 1 and "already holds data" in again.stderr  # the module's own exit status

    verified = desk("audit", "verify", "--url", url)
    assert verified.returncode == 0, verified.stderr
    assert "audit log OK" in verified.stdout

    listed = desk("approvals", "list", "--url", url)
    assert listed.returncode == 0, listed.stderr
    assert "no pending requests" in listed.stdout or "APR-" in listed.stdout
    everything = desk("approvals", "list", "--status", "all", "--url", url)
    assert everything.returncode == 0

    missing = desk("approvals", "approve", "APR-99999", "--agent", "agent.smith", "--url", url)
    assert missing.returncode == 1 and "no approval request" in missing.stderr


def test_usage_errors_and_project_directory(tmp_path):
    assert desk("approvals", "approve", "--url", f"sqlite:///{tmp_path / 'x.db'}").returncode == 2  # no ID, no --agent
    assert desk("backoffice", "frobnicate").returncode == 2
    elsewhere = desk("audit", "verify", "--url", f"sqlite:///{tmp_path / 'empty.db'}", "--project", str(REPO), cwd=tmp_path)
    assert elsewhere.returncode == 2 and "no back-office schema" in elsewhere.stderr
    missing = desk("audit", "verify", "--project", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such project directory" in missing.stderr
