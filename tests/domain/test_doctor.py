"""``flask doctor`` (issue #12): each check against the real thing it checks (the test database,
its migrations, the vault, the scheduler's lock), and the command in a process of its own."""
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from app import create_app
from connections.models import Connection
from core.extensions import db
from core.timeutil import utcnow
from knowledge import embeddings
from sync import service as sync_service
from sync.models import SyncRun
from tests.factories import user_actor_for

ROOT = Path(__file__).parents[2]


@pytest.fixture
def own_instance(monkeypatch, tmp_path):
    """An instance folder for apps made here without the ``app`` fixture (never the repository's)."""
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path / "instance"))


def doctor(app):
    result = app.test_cli_runner().invoke(args=["doctor"])
    lines = {line.split()[1]: line for line in result.output.splitlines() if line[:4] in ("ok  ", "WARN", "FAIL")}
    return result, lines


def test_a_sound_installation_passes(app):
    result, lines = doctor(app)
    assert result.exit_code == 0, result.output
    for check in ("model", "database", "migrations", "keys", "workers"):
        assert lines[check].startswith("ok"), result.output
    assert "all-MiniLM-L6-v2 loads and embeds (384 dimensions)" in lines["model"]
    assert "the latest" in lines["migrations"]


def test_a_missing_model_fails_with_the_command_that_fixes_it(app, monkeypatch):
    monkeypatch.setattr(embeddings, "_failures", {})
    app.config["EMBEDDING_MODEL"] = "/nonexistent/model"
    result, lines = doctor(app)
    assert result.exit_code == 1
    assert lines["model"].startswith("FAIL") and "semantic search is unavailable" in lines["model"]
    assert "fix: set EMBEDDING_MODEL" in result.output
    assert "1 problem(s): model." in result.output


def test_the_scheduler_check_sees_the_leader(app):
    from sync.scheduler import Scheduler

    _, lines = doctor(app)
    assert lines["scheduler"].startswith("WARN") and "no process leads" in lines["scheduler"]
    scheduler = Scheduler(app).start(campaign=False)
    try:
        assert scheduler.is_leader
        result, lines = doctor(app)
        assert lines["scheduler"].startswith("ok"), result.output
    finally:
        scheduler.stop()


def test_a_run_no_worker_claims_is_reported(app, workspace):
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        connection = Connection(workspace_id=ws.id, connector_type="webhook", name="Hook", scope="business",
                                status="connected", settings={}, credentials={"signing_secret": "s"})
        db.session.add(connection)
        db.session.flush()
        run = sync_service.enqueue(user_actor_for(ws, user), connection, mode="full", triggered_by="manual")
        db.session.commit()
        db.session.execute(update(SyncRun).where(SyncRun.id == run.id)
                           .values(created_at=utcnow() - timedelta(minutes=12)))
        db.session.commit()
    result, lines = doctor(app)
    assert lines["workers"].startswith("WARN") and "waited 12 min" in lines["workers"], result.output


def test_secrets_the_keys_cannot_decrypt_fail(app, app_config, workspace):
    with app.app_context():
        connection = Connection(workspace_id=workspace[0].id, connector_type="webhook", name="Hook",
                                scope="business", status="connected", settings={},
                                credentials={"signing_secret": "whsec_x"})
        db.session.add(connection)
        db.session.commit()
    # The same database, started with a keyring that lost the key the secret was written with.
    other = create_app({**app_config, "FERNET_KEYS": [Fernet.generate_key().decode()]})
    try:
        result, lines = doctor(other)
        assert result.exit_code == 1
        assert lines["keys"].startswith("FAIL") and "1 of 1 stored secrets cannot be decrypted" in lines["keys"]
    finally:
        with other.app_context():
            db.engine.dispose()


def test_an_unmigrated_database_fails_and_says_how_to_migrate(app_config, own_instance, tmp_path):
    fresh = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"})
    result, lines = doctor(fresh)
    assert result.exit_code == 1
    assert lines["migrations"].startswith("FAIL") and "fix: flask --app app db upgrade" in result.output
    assert "not checked: the database has no tables yet" in lines["keys"]


def test_an_unreachable_database_fails(app_config, own_instance):
    unreachable = create_app({**app_config, "DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/nothing"})
    result, lines = doctor(unreachable)
    assert result.exit_code == 1
    assert lines["database"].startswith("FAIL") and "cannot be reached" in lines["database"]
    assert "secret" not in result.output  # the password is never printed
    assert "not checked: no database" in lines["migrations"]


@pytest.mark.slow
def test_the_command_in_its_own_process_and_the_start_up_warning(tmp_path):
    """`flask doctor` as an operator runs it, on an installation whose EMBEDDING_MODEL names a
    model that is not installed: the app says so once at start, the doctor fails on it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRIBUTARY_")}
    env.update(TRIBUTARY_INSTANCE_PATH=str(tmp_path / "instance"), TRIBUTARY_EMBEDDING_MODEL="/nonexistent/model")
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "doctor"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  model" in result.stdout and "fix: set EMBEDDING_MODEL" in result.stdout
    assert result.stdout.count("ok  ") >= 3  # database, migrations (applied at start on SQLite), keys
    warnings = [line for line in result.stderr.splitlines() if "Semantic search is unavailable" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], result.stderr
    assert "Traceback" not in result.stderr
