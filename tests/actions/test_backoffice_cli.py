"""``python -m actions.backoffice``: migrate, seed, reset and audit verify, run as a user would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from actions.backoffice import db
from actions.backoffice.__main__ import main
from actions.backoffice.audit import AuditLog

REPO = Path(__file__).resolve().parents[2]


def cli(*args, cwd, env=None):
    environ = {k: v for k, v in os.environ.items() if k != db.URL_ENV}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environ.get("PYTHONPATH")]))
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "actions.backoffice", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


def test_migrate_seed_and_reset(tmp_path):
    url = f"sqlite:///{tmp_path / 'bo.db'}"
    done = cli("migrate", "--url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"revision {db.head_revision()}" in done.stdout

    done = cli("seed", "--url", url, "--today", "2025-06-02", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Northwind Outfitters" in done.stdout and "40 customers, 120 orders" in done.stdout

    done = cli("seed", "--url", url, cwd=tmp_path)
    assert done.returncode == 1 and "already holds data" in done.stderr

    done = cli("reset", "--url", url, "--empty", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "empty schema" in done.stdout
    with db.engine_for(url).connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 0


def test_url_from_the_environment_and_the_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    env_db = tmp_path / "from_env.db"
    monkeypatch.setenv(db.URL_ENV, f"sqlite:///{env_db}")
    assert main(["seed", "--today", "2025-06-02"]) == 0
    assert env_db.exists()
    monkeypatch.delenv(db.URL_ENV)
    assert main(["migrate"]) == 0
    assert (tmp_path / "backoffice.db").exists()  # sqlite:///backoffice.db, relative to the working directory
    assert f"revision {db.head_revision()}" in capsys.readouterr().out


def test_audit_verify(tmp_path):
    url = f"sqlite:///{tmp_path / 'bo.db'}"
    db.migrate(url)
    log = AuditLog(url)
    log.append_many([("conv-1", "CUS-0001", "get_order", {"order_id": f"ORD-{10001 + k}"}, "ok", 5) for k in range(5)])
    db.dispose_engines()

    done = cli("audit", "verify", "--url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "audit log OK: 5 records verified" in done.stdout

    with db.engine_for(url).begin() as conn:
        conn.execute(sa.text("UPDATE audit_records SET parameters = '{\"order_id\": \"ORD-1\"}' WHERE seq = 3"))
    db.dispose_engines()
    done = cli("audit", "verify", "--url", url, cwd=tmp_path)
    assert done.returncode == 1
    assert "BROKEN at record 3" in done.stderr and "altered" in done.stderr


def test_usage_errors_exit_2(tmp_path):
    done = cli("frobnicate", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice" in done.stderr
    for argv in ([], ["seed", "--today", "June 2nd"], ["audit"], ["reset", "--url"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


def test_database_errors_exit_2(tmp_path, capsys):
    assert main(["audit", "verify", "--url", f"sqlite:///{tmp_path / 'never_migrated.db'}"]) == 2
    assert "migrate" in capsys.readouterr().err
    assert main(["migrate", "--url", "postgresql://nobody@127.0.0.1:1/none"]) == 2
    assert capsys.readouterr().err.startswith("error: postgresql+psycopg://nobody@127.0.0.1:1/none")
