"""Schema, migrations, engines and sessions of the back office."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from actions.backoffice import db
from actions.backoffice import models as m
from actions.backoffice.seed import reset

from backoffice_helpers import NOW

MODEL_TABLES = set(m.Base.metadata.tables)


def test_models_cover_every_system():
    assert {
        "customers", "addresses", "orders", "order_items", "shipments", "tracking_events", "invoices", "payments",
        "refunds", "tickets", "ticket_messages", "appointments", "appointment_slots", "verification_challenges",
        "approval_requests", "outbox_messages", "audit_records",
    } <= MODEL_TABLES


def test_migrate_creates_every_table(empty_url):
    assert db.current_revision(empty_url) is None
    assert db.migrate(empty_url) == db.head_revision()
    names = set(sa.inspect(db.engine_for(empty_url)).get_table_names())
    assert names == MODEL_TABLES | {"alembic_version"}
    assert db.migrate(empty_url) == db.head_revision()  # a second run is a no-op


def test_migrations_match_the_models(migrated_url):
    with db.engine_for(migrated_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, m.Base.metadata) == []


def test_indexes_for_lookups(migrated_url):
    inspector = sa.inspect(db.engine_for(migrated_url))

    def indexed(table: str) -> set[str]:
        columns = {tuple(ix["column_names"])[0] for ix in inspector.get_indexes(table)}
        columns |= {tuple(uq["column_names"])[0] for uq in inspector.get_unique_constraints(table)}
        return columns

    assert {"email", "phone"} <= indexed("customers")
    assert "customer_id" in indexed("orders")
    assert "order_id" in indexed("invoices") and "order_id" in indexed("refunds")
    assert "idempotency_key" in indexed("refunds")
    assert "tracking_number" in indexed("shipments")
    assert "conversation_id" in indexed("audit_records")
    assert "conversation_id" in indexed("verification_challenges")


def test_downgrade_and_upgrade_again(migrated_url):
    config = db.alembic_config(migrated_url)
    with db.engine_for(migrated_url).begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(sa.inspect(db.engine_for(migrated_url)).get_table_names()) <= {"alembic_version"}
    db.migrate(migrated_url)
    assert MODEL_TABLES <= set(sa.inspect(db.engine_for(migrated_url)).get_table_names())


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'bo.db'}"
    db.migrate(url)
    with db.engine_for(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            s.add(m.Order(
                id="ORD-99999", customer_id="CUS-9999", status="pending", placed_at=NOW, ship_name="X", ship_line1="1 A St",
                ship_city="Portland", ship_postal_code="97201", ship_country="US", total=1, currency="USD",
            ))


def test_check_constraints_reject_unknown_values(migrated_url):
    with pytest.raises(IntegrityError):
        with db.session_scope(migrated_url) as s:
            s.add(m.Customer(id="CUS-0001", name="A", email="a@example.com", account_type="vip", status="active"))


def test_default_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(db.URL_ENV, raising=False)
    assert db.default_url() == "sqlite:///backoffice.db"
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv(db.URL_ENV, url)
    assert db.default_url() == url
    assert db.migrate() == db.head_revision()
    assert (tmp_path / "env.db").exists()


def test_postgres_urls_use_psycopg():
    assert db.normalise_url("postgresql://u:p@h/d").drivername == "postgresql+psycopg"
    assert db.normalise_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    assert db.normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_session_scope_commits_or_rolls_back(migrated_url):
    with db.session_scope(migrated_url) as s:
        s.add(m.OutboxMessage(channel="email", recipient="a@example.com", subject="s", body="b"))
    with pytest.raises(RuntimeError):
        with db.session_scope(migrated_url) as s:
            s.add(m.OutboxMessage(channel="email", recipient="b@example.com", subject="s", body="b"))
            s.flush()
            raise RuntimeError("boom")
    with db.session_scope(migrated_url) as s:
        assert s.scalars(sa.select(m.OutboxMessage.recipient)).all() == ["a@example.com"]


def test_next_id_counts_per_prefix_without_duplicates(migrated_url):
    factory = db.session_factory(migrated_url)
    got, errors = [], []

    def take():
        try:
            for _ in range(10):
                with db.session_scope(factory, write=True) as s:
                    got.append(m.next_id(s, "TCK"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == [f"TCK-{n:05d}" for n in range(1, 41)]
    with db.session_scope(migrated_url) as s:
        assert m.next_id(s, "ORD") == "ORD-10001"
        assert m.next_id(s, "CUS") == "CUS-0001"


def test_reset_without_seed_leaves_an_empty_schema(fresh_seeded_url):
    counts = reset(fresh_seeded_url, seed_data=False)
    assert set(counts.values()) == {0}
    assert db.current_revision(fresh_seeded_url) == db.head_revision()


def test_verification_challenge_stores_only_a_hash(migrated_url):
    with db.session_scope(migrated_url) as s:
        s.add(m.Customer(id="CUS-0001", name="A", email="a@example.com", account_type="personal", status="active"))
        s.flush()
        challenge = m.VerificationChallenge.issue("conv-1", "CUS-0001", "482913", now=NOW)
        s.add(challenge)
    with db.engine_for(migrated_url).connect() as conn:
        row = conn.execute(sa.select(m.VerificationChallenge.__table__)).one()._mapping
    assert "482913" not in " ".join(str(v) for v in row.values())
    assert row["max_attempts"] == 3 and row["attempts"] == 0 and len(row["salt"]) == 32

    with db.session_scope(migrated_url) as s:
        challenge = s.scalars(sa.select(m.VerificationChallenge)).one()
        assert not challenge.attempt("000000", now=NOW)
        assert challenge.attempt(" 482913 ", now=NOW + timedelta(minutes=1))
        assert challenge.verified_at == NOW + timedelta(minutes=1)
        assert not challenge.is_open(NOW)


def test_verification_challenge_locks_after_three_attempts_and_expires():
    challenge = m.VerificationChallenge.issue("conv-1", "CUS-0001", "123456", now=NOW)
    assert not any(challenge.attempt(code, now=NOW) for code in ("1", "2", "3"))
    assert not challenge.attempt("123456", now=NOW)  # exhausted
    late = m.VerificationChallenge.issue("conv-2", "CUS-0001", "123456", now=NOW, ttl=timedelta(minutes=5))
    assert not late.attempt("123456", now=NOW + timedelta(minutes=6))
    assert late.attempts == 0


def test_audit_records_are_append_only_through_the_orm(migrated_url):
    from actions.backoffice.audit import AuditLog

    AuditLog(migrated_url).append("c", None, "get_order", {"order_id": "ORD-10001"}, "ok", 3)
    with pytest.raises(PermissionError):
        with db.session_scope(migrated_url) as s:
            record = s.scalars(sa.select(m.AuditRecord)).one()
            record.outcome = "error"
    with pytest.raises(PermissionError):
        with db.session_scope(migrated_url) as s:
            s.delete(s.scalars(sa.select(m.AuditRecord)).one())


def test_the_action_server_can_load_the_actions_package():
    """rasa-sdk imports every module under actions/ (migrations and the CLI included)."""
    from rasa_sdk.executor import ActionExecutor

    ActionExecutor().register_package("actions")
