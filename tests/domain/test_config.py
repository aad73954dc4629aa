"""Configuration layering and the embedded default's database settings."""
from sqlalchemy import text

from app import create_app
from core.extensions import db


def test_instance_config_then_environment_win_over_defaults(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("STALE_AFTER_HOURS = 12\nPUBLIC_URL = 'https://from-file.example'\n")
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRIBUTARY_PUBLIC_URL", "https://from-env.example")
    monkeypatch.setenv("TRIBUTARY_GITHUB_CLIENT_ID", "env-client")
    app = create_app({"AUTO_MIGRATE": False})
    assert app.config["STALE_AFTER_HOURS"] == 12  # file over default (48)
    assert app.config["PUBLIC_URL"] == "https://from-env.example"  # environment over file
    assert app.config["GITHUB_CLIENT_ID"] == "env-client"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'tributary.db'}"


def test_database_url_variants(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/tributary")
    app = create_app({"AUTO_MIGRATE": False})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/tributary"
    assert app.config["AUTO_MIGRATE"] is False  # shared databases migrate as a release step


def test_embedded_default_migrates_itself_and_uses_wal(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        tables = set(db.session.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars())
        assert {"workspaces", "connections", "sync_runs", "audit_events", "alembic_version"} <= tables
        db.session.remove()
        db.engine.dispose()
