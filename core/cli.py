"""``flask keys``: Fernet key rotation for the vault; ``flask doctor``: check the installation."""
from pathlib import Path

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import text

from .extensions import db
from .types import ENCRYPTED_TYPES
from .vault import Vault, fingerprint, read_keyring, write_private_file


def _audit_keys(action: str, vault: Vault, **details) -> None:
    """Record a change of the installation's keys (in the installation's audit chain)."""
    from audit.service import record

    from .actor import system_actor

    record(system_actor(), action, target_type="vault", details={
        "primary_key": fingerprint(vault.keys[0]), "keys": [fingerprint(k) for k in vault.keys], **details})
    db.session.commit()


def encrypted_columns():
    """(table, primary key column, encrypted column) for every encrypted column of every model."""
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)[0]
        for column in table.columns:
            if isinstance(column.type, ENCRYPTED_TYPES):
                yield table, pk, column


def reencrypt_all(vault: Vault) -> int:
    """Re-encrypt every stored secret under the vault's primary key, in one transaction.

    Works on the raw ciphertext with plain SQL (the encrypting column types would decrypt on
    read and encrypt again on write), so plaintext never leaves ``MultiFernet.rotate``.
    """
    count = 0
    with db.engine.begin() as conn:
        for table, pk, column in encrypted_columns():
            rows = conn.execute(text(f'SELECT "{pk.name}", "{column.name}" FROM "{table.name}" '
                                     f'WHERE "{column.name}" IS NOT NULL')).all()
            statement = text(f'UPDATE "{table.name}" SET "{column.name}" = :token WHERE "{pk.name}" = :id')
            for row_id, token in rows:
                conn.execute(statement, {"token": vault.rotate(token), "id": row_id})
                count += 1
    return count


def raw_tokens():
    """Every stored ciphertext, as stored."""
    with db.engine.connect() as conn:
        for table, _pk, column in encrypted_columns():
            yield from conn.execute(text(f'SELECT "{column.name}" FROM "{table.name}" '
                                         f'WHERE "{column.name}" IS NOT NULL')).scalars()


@click.group("keys")
def keys_cli():
    """Manage the Fernet keys that encrypt stored secrets."""


@keys_cli.command("rotate")
@with_appcontext
def rotate():
    """Add a new primary key and re-encrypt every stored secret with it.

    With keys in instance/fernet.keys the new key is written there first (the old keys stay,
    so nothing becomes unreadable if re-encryption fails part-way; the transaction rolls
    back). With TRIBUTARY_FERNET_KEYS, put a new key first in that list, restart, then run
    this command to re-encrypt.
    """
    path = current_app.config.get("FERNET_KEYRING_PATH")
    keys = list(current_app.config["FERNET_KEYS"])
    if path:
        keys = [Fernet.generate_key().decode("ascii")] + read_keyring(Path(path))
        write_private_file(Path(path), "\n".join(keys) + "\n")
        click.echo(f"Added a new primary key to {path} ({len(keys)} keys).")
    vault = Vault(keys)
    current_app.extensions["vault"] = vault
    count = reencrypt_all(vault)
    _audit_keys("vault.keys_rotated", vault, reencrypted=count)
    click.echo(f"Re-encrypted {count} stored secrets with the primary key.")


@keys_cli.command("retire")
@with_appcontext
def retire():
    """Drop every key but the primary, after checking no stored secret still needs one."""
    path = current_app.config.get("FERNET_KEYRING_PATH")
    vault = current_app.extensions["vault"]
    if not all(vault.decrypts_with_primary(token) for token in raw_tokens()):
        raise click.ClickException("Some secrets are still encrypted with an older key: "
                                   "run `flask keys rotate` first.")
    if not path:
        click.echo("All secrets use the primary key: remove the older keys from TRIBUTARY_FERNET_KEYS.")
        return
    write_private_file(Path(path), vault.keys[0] + "\n")
    _audit_keys("vault.keys_retired", Vault(vault.keys[:1]), retired=[fingerprint(k) for k in vault.keys[1:]])
    click.echo("Retired the older keys.")


MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@click.command("doctor")
@with_appcontext
def doctor_command():
    """Check the installation: embedding model, database, migrations, keys, workers, scheduler.

    Prints one line per check and, for each problem, what fixes it. Exits 1 if a check fails.
    """
    from .doctor import run_checks

    findings = run_checks()
    width = max(len(f.check) for f in findings)
    for finding in findings:
        click.echo(f"{MARKS[finding.level]}  {finding.check:<{width}}  {finding.summary}")
        if finding.fix and finding.level != "ok":
            click.echo(f"      {'':<{width}}  fix: {finding.fix}")
    failed = [f.check for f in findings if f.level == "fail"]
    warned = [f.check for f in findings if f.level == "warn"]
    if failed:
        click.echo(f"{len(failed)} problem(s): {', '.join(failed)}." + (f" Also check: {', '.join(warned)}."
                                                                         if warned else ""))
        raise SystemExit(1)
    click.echo("Everything checked is fine." if not warned else f"No failures; check: {', '.join(warned)}.")
