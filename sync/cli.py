"""``flask worker`` and ``flask sync``: sync workers outside the web process."""
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from core.extensions import db

from . import worker


@click.command("worker")
@click.option("--threads", default=2, show_default=True, help="Runs executed at once by this process.")
@click.option("--embedding/--no-embedding", default=True, show_default=True,
              help="Also embed queued chunks (one thread; the model uses EMBEDDING_THREADS cores).")
@with_appcontext
def worker_command(threads, embedding):
    """Claim and execute sync runs until stopped (scale-out: run any number of these)."""
    app = current_app._get_current_object()
    pool = worker.WorkerPool(app, threads=threads).start()
    embedding_worker = None
    if embedding:
        from knowledge.embedding_queue import start_embedding_worker

        embedding_worker = start_embedding_worker(app)
    scheduler = None
    if app.config["SCHEDULER_ENABLED"]:
        from .scheduler import Scheduler

        scheduler = Scheduler(app).start()  # one process in the deployment wins the lock
    click.echo(f"worker {pool.worker_id}: {threads} threads, polling every {app.config['WORKER_POLL_SECONDS']} s")
    if db.engine.dialect.name == "sqlite":
        # SQLite has one write lock per database file and nothing can break it from outside: a
        # process frozen inside a write transaction (stopped, swapped out) blocks every writer,
        # a takeover of its run included, until it resumes or dies. PostgreSQL ends such a
        # session after DB_IDLE_IN_TRANSACTION_TIMEOUT.
        click.echo("note: on SQLite, worker processes share one write lock; a worker frozen mid-write "
                   "stalls every writer until it resumes or dies. Scale out on PostgreSQL (README \"Scale-out\").")
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    click.echo("stopping: finishing the current pages")
    if scheduler is not None:
        scheduler.stop()
    pool.stop()
    if embedding_worker is not None:
        embedding_worker.stop()


@click.group("sync")
def sync_cli():
    """Sync maintenance commands."""


@sync_cli.command("run-pending")
@with_appcontext
def run_pending():
    """Execute every pending run in this process, then exit."""
    done = worker.drain(current_app._get_current_object())
    click.echo(f"executed {len(done)} runs")
