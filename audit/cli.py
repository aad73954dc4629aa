"""``flask audit verify``: check every audit chain (``--full``: from the anchor, every entry);
``flask audit checkpoint``: verify and checkpoint every chain now; ``flask audit prune``: apply
retention now; ``flask audit resign``: re-sign the checkpoints after a ``SECRET_KEY`` rotation."""
import click
from flask import current_app
from flask.cli import with_appcontext

from . import chain


@click.group("audit")
def audit_cli():
    """The audit trail's tamper evidence and retention."""


def _echo_broken(key, result) -> None:
    entry = f"entry aud_{result.first_bad_entry_id}" if result.first_bad_entry_id else "an entry"
    click.echo(f"BROKEN {key or 'installation (no workspace)'}: {entry} at place {result.first_bad_seq}: "
               f"{result.reason}")


@audit_cli.command("verify")
@click.option("--workspace", "workspace_id", default=None, help="Verify one workspace's chain (default: all).")
@click.option("--full", is_flag=True, help="Recompute every entry from the anchor and check every checkpoint "
                                           "(default: from each chain's latest checkpoint), and record the outcome "
                                           "in each chain (audit.verified / audit.chain_broken).")
@with_appcontext
def verify_command(workspace_id, full):
    """Recompute the chains' hashes from their latest checkpoints (``--full``: from the anchor,
    recorded as the chain's latest full walk); exit 1 naming the first bad entry of each broken chain."""
    keys = [workspace_id] if workspace_id else chain.chains()
    if workspace_id and workspace_id not in chain.chains():
        raise click.UsageError(f"There is no audit chain of workspace {workspace_id!r}.")
    broken = 0
    for key in keys:
        result = chain.full_walk(key, "cli") if full else chain.verify(key)
        name = key or "installation (no workspace)"
        if result.intact:
            since = (f"checkpoint {result.checkpoint_seq}" if result.checkpoint_seq and not full
                     else "the anchor")
            click.echo(f"ok    {name}: {result.entries_checked} entries intact (places {result.verified_from_seq + 1}"
                       f" to {result.head_seq}, from {since})")
            continue
        broken += 1
        _echo_broken(key, result)
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


@audit_cli.command("resign")
@with_appcontext
def resign_command():
    """After a SECRET_KEY rotation (the previous key in SECRET_KEY_FALLBACKS): verify every chain
    fully and re-sign its checkpoints with the current key, all in one transaction; exit 1, changing
    nothing, if a chain is broken."""
    if not chain._fallback_secrets():
        click.echo("SECRET_KEY_FALLBACKS is empty: checkpoints are verified with the current SECRET_KEY only "
                   "(set it to the previous key first; see the README, \"Rotating SECRET_KEY\").")
    resigned, broken = chain.resign()
    for key, result in broken.items():
        _echo_broken(key, result)
    if broken:
        click.echo(f"{len(broken)} chain(s) broken: nothing was re-signed.")
        raise SystemExit(1)
    click.echo(f"Re-signed {sum(resigned.values())} checkpoint(s) of {len(resigned)} chain(s) with the current "
               f"SECRET_KEY; SECRET_KEY_FALLBACKS can now be emptied.")
