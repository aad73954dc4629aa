"""``flask audit verify``: check every audit chain; ``flask audit prune``: apply retention now."""
import click
from flask import current_app
from flask.cli import with_appcontext

from . import chain


@click.group("audit")
def audit_cli():
    """The audit trail's tamper evidence and retention."""


@audit_cli.command("verify")
@click.option("--workspace", "workspace_id", default=None, help="Verify one workspace's chain (default: all).")
@with_appcontext
def verify_command(workspace_id):
    """Recompute every chain's hashes; exit 1 naming the first bad entry of each broken chain."""
    keys = [workspace_id] if workspace_id else chain.chains()
    broken = 0
    for key in keys:
        result = chain.verify(key)
        name = key or "installation (no workspace)"
        if result.intact:
            click.echo(f"ok    {name}: {result.entries_checked} entries intact (places {result.anchor_seq + 1}"
                       f" to {result.head_seq})")
            continue
        broken += 1
        entry = f"entry aud_{result.first_bad_entry_id}" if result.first_bad_entry_id else "an entry"
        click.echo(f"BROKEN {name}: {entry} at place {result.first_bad_seq}: {result.reason}")
    if broken:
        click.echo(f"{broken} of {len(keys)} chain(s) broken.")
        raise SystemExit(1)
    click.echo(f"All {len(keys)} chain(s) intact.")


@audit_cli.command("prune")
@with_appcontext
def prune_command():
    """Remove entries older than AUDIT_RETENTION_DAYS now (the hourly housekeeping does it too)."""
    removed = chain.remove_expired(float(current_app.config.get("AUDIT_RETENTION_DAYS") or 0))
    click.echo(f"Removed {sum(removed.values())} entries from {len(removed)} chain(s).")
