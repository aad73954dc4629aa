"""``flask audit verify``: check every audit chain (``--full``: from the anchor, every entry);
``flask audit checkpoint``: verify and checkpoint every chain now; ``flask audit prune``: apply
retention now."""
import click
from flask import current_app
from flask.cli import with_appcontext

from . import chain


@click.group("audit")
def audit_cli():
    """The audit trail's tamper evidence and retention."""


@audit_cli.command("verify")
@click.option("--workspace", "workspace_id", default=None, help="Verify one workspace's chain (default: all).")
@click.option("--full", is_flag=True, help="Recompute every entry from the anchor and check every checkpoint "
                                           "(default: from each chain's latest checkpoint).")
@with_appcontext
def verify_command(workspace_id, full):
    """Recompute the chains' hashes from their latest checkpoints (``--full``: from the anchor);
    exit 1 naming the first bad entry of each broken chain."""
    keys = [workspace_id] if workspace_id else chain.chains()
    broken = 0
    for key in keys:
        result = chain.verify(key, full=full)
        name = key or "installation (no workspace)"
        if result.intact:
            since = (f"checkpoint {result.checkpoint_seq}" if result.checkpoint_seq and not full
                     else "the anchor")
            click.echo(f"ok    {name}: {result.entries_checked} entries intact (places {result.verified_from_seq + 1}"
                       f" to {result.head_seq}, from {since})")
            continue
        broken += 1
        entry = f"entry aud_{result.first_bad_entry_id}" if result.first_bad_entry_id else "an entry"
        click.echo(f"BROKEN {name}: {entry} at place {result.first_bad_seq}: {result.reason}")
    if broken:
        click.echo(f"{broken} of {len(keys)} chain(s) broken.")
        raise SystemExit(1)
    click.echo(f"All {len(keys)} chain(s) intact.")


@audit_cli.command("checkpoint")
@with_appcontext
def checkpoint_command():
    """Verify every chain from its latest checkpoint and checkpoint those intact that grew (the
    hourly housekeeping does it too); exit 1 if a chain is broken (no checkpoint is written then)."""
    broken = 0
    for key in chain.chains():
        result, place = chain.checkpoint(key)
        name = key or "installation (no workspace)"
        if not result.intact:
            broken += 1
            click.echo(f"BROKEN {name}: at place {result.first_bad_seq}: {result.reason}")
        else:
            click.echo(f"ok    {name}: " + (f"checkpoint at place {place}" if place else "no new entries"))
    if broken:
        raise SystemExit(1)


@audit_cli.command("prune")
@with_appcontext
def prune_command():
    """Remove entries older than AUDIT_RETENTION_DAYS now (the hourly housekeeping does it too)."""
    removed = chain.remove_expired(float(current_app.config.get("AUDIT_RETENTION_DAYS") or 0))
    click.echo(f"Removed {sum(removed.values())} entries from {len(removed)} chain(s).")
