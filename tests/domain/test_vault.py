"""Secrets at rest: MultiFernet encryption and `flask keys rotate`."""
import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from app import create_app
from connections.models import Connection
from core.cli import raw_tokens
from core.extensions import db
from core.vault import Vault, VaultError


def test_vault_round_trip_and_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault([old]).encrypt(b"secret")
    rotated = Vault([new, old]).rotate(token)
    assert Vault([new]).decrypt(rotated) == b"secret"
    with pytest.raises(VaultError):
        Vault([new]).decrypt(token)


def test_malformed_key_is_a_clear_error():
    with pytest.raises(VaultError, match="malformed"):
        Vault(["not-a-key"])


def test_first_run_generates_private_keys_and_database(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # an open connection keeps the -wal file
        for name in ("secret_key", "fernet.keys", "tributary.db", "tributary.db-wal"):
            mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
    with app.app_context():
        db.engine.dispose()
    create_app({"AUTO_MIGRATE": False})  # second start reuses them
    assert len((tmp_path / "fernet.keys").read_text().split()) == 1


def test_rotate_reencrypts_every_secret_without_losing_one(app_config, tmp_path, monkeypatch, _schema):
    """`flask keys rotate` with the file keyring: new primary key, every secret re-encrypted."""
    from tests.conftest import _clean

    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path))
    config = {k: v for k, v in app_config.items() if k != "FERNET_KEYS"}
    app = create_app(config)
    fresh = None
    try:
        with app.app_context():
            from tests.factories import make_workspace

            ws, _ = make_workspace("Rot")
            for i in range(3):
                db.session.add(Connection(workspace_id=ws.id, connector_type="pipedrive", name=f"p{i}",
                                          status="connected", settings={}, credentials={"api_key": f"key-{i}"}))
            db.session.commit()
            before = sorted(raw_tokens())
        result = app.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "Re-encrypted 3 stored secrets" in result.output
        keys = (tmp_path / "fernet.keys").read_text().split()
        assert len(keys) == 2
        with app.app_context():
            after = sorted(raw_tokens())
            assert after != before and all(app.extensions["vault"].decrypts_with_primary(t) for t in after)
            db.session.expire_all()
            got = sorted(c.credentials["api_key"] for c in db.session.scalars(db.select(Connection)))
            assert got == ["key-0", "key-1", "key-2"]
        retire = app.test_cli_runner().invoke(args=["keys", "retire"])
        assert retire.exit_code == 0, retire.output
        fresh = create_app(config)  # a restart with only the new key still reads everything
        with fresh.app_context():
            assert len((tmp_path / "fernet.keys").read_text().split()) == 1
            assert sorted(c.credentials["api_key"] for c in db.session.scalars(db.select(Connection))) == got
            raw = db.session.execute(text("SELECT credentials FROM connections")).scalars().all()
            assert not any("key-" in value for value in raw)
    finally:
        _clean(app)
        for application in filter(None, (app, fresh)):
            with application.app_context():
                db.engine.dispose()
