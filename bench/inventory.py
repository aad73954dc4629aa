"""Benchmark of the Connections inventory and GET /api/v1/connections at 1,000 connections:
server time (median / p95) and response size, the paged page against the whole list in one page
(what the inventory served before it had pages), in the same run.

    python -m bench.inventory                      # 1,000 connections, 30 rounds
    python -m bench.inventory --connections 5000   # more
    python -m bench.inventory --database-url postgresql://postgres@127.0.0.1:5432/bench_inventory

What is timed: one request at a time through the Flask app in this process (the test client, no
network), from the WSGI call to the last byte of the body: session and member loading, the
domain queries, serialization and the template. That is the server's time for the request.

Data: a fresh database (SQLite in WAL mode under a temporary instance, unless
``--database-url``), one workspace, N connections of five connector types, created over a month,
each with ``--runs`` finished sync runs (the latest: 80% completed, 10% failed, 5% with a failed
stream, 5% rate-limited; 2% of connections have a running run, 5% are disconnected, 3% need
re-authorization, a fifth were last synced more than 48 h ago).

Measured, interleaved round by round so drift hits every case alike:

* ``all rows (before)``: the inventory as it was before pages: every connection serialized
  (``connections.service.list_connections``) and rendered in the page's template;
* ``page 1``: ``GET /connections``, 50 rows, counts per health;
* ``health=error``: the same with the derived-health filter (decided in SQL);
* ``q=sales, page 2``: a text filter, second page;
* ``API, every connection`` / ``API, limit=50``: ``GET /api/v1/connections`` without and with a limit.

There are no assertions: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import bench_workspace, machine, table, wait_for_quiet  # noqa: E402

TYPES = ("pipedrive", "github", "webhook", "twitter", "gmail")
TARGET_MS = 100.0


def make_app(instance: Path, database_url: str | None):
    import os

    os.environ["TRIBUTARY_INSTANCE_PATH"] = str(instance)
    from app import create_app
    from bench._common import quiet_logs

    app = create_app({"DATABASE_URL": database_url or f"sqlite:///{instance / 'tributary.db'}",
                      "AUTO_MIGRATE": True, "SECRET_KEY": "bench", "EMBEDDED_WORKERS": 0,
                      "SCHEDULER_ENABLED": False, "WTF_CSRF_ENABLED": False})
    quiet_logs()
    return app


def load(app, count: int, runs_per: int, seed: int = 7) -> tuple[str, str, str]:
    """The workspace, its admin and ``count`` connections with their runs; returns
    (workspace id, user id, API key)."""
    from sqlalchemy import insert

    from connections.models import Connection
    from core.extensions import db
    from core.ids import new_id
    from core.timeutil import utcnow
    from sync.models import SyncRun

    rng = random.Random(seed)
    with app.app_context():
        workspace, actor, clear = bench_workspace(["connections:read"])
        now = utcnow()
        connections, runs = [], []
        for index in range(count):
            kind = rng.random()
            connector_type = TYPES[index % len(TYPES)]
            created = now - timedelta(days=30) + timedelta(seconds=index * 2400 * 1000 / max(count, 1))
            status = ("disconnected" if kind < 0.05 else "error" if kind < 0.08 else "connected")
            stale = rng.random() < 0.2
            connection_id = new_id("conn")
            connections.append({
                "id": connection_id, "workspace_id": workspace.id, "connector_type": connector_type,
                "name": f"{rng.choice(('Sales', 'Support', 'Eng', 'Ops', 'Finance'))} {connector_type} {index:04d}",
                "kind": "first_party", "scope": "personal" if connector_type == "gmail" else "business",
                "status": status, "needs_reauth": 0.05 <= kind < 0.08, "settings": {},
                "owner_user_id": actor.user_id if connector_type == "gmail" else None,
                "handle": f"acct-{index}", "display_name": f"Account {index}",
                "last_synced_at": now - timedelta(hours=72 if stale else 1), "created_at": created,
                "updated_at": created, "connected_at": created})
            for r in range(runs_per):
                latest = r == runs_per - 1
                roll = rng.random()
                run_status = "completed"
                reason, failed_streams = None, 0
                if latest and roll < 0.10:
                    run_status, reason = "failed", "transient"
                elif latest and roll < 0.15:
                    failed_streams = 1
                elif latest and roll < 0.20:
                    run_status, reason = "failed", "rate_limit"
                elif latest and roll < 0.22:
                    run_status = "running"
                started = now - timedelta(hours=(runs_per - r) * 6)
                runs.append({
                    "id": new_id("run"), "workspace_id": workspace.id, "connection_id": connection_id,
                    "status": run_status, "triggered_by": "schedule", "mode": "incremental",
                    "created_at": started, "started_at": started,
                    "finished_at": None if run_status == "running" else started + timedelta(seconds=30),
                    "streams_total": 3, "streams_failed": failed_streams, "records_written": rng.randint(0, 500),
                    "progress_processed": rng.randint(0, 2000), "error_reason": reason,
                    "attempts": 1, "progress_failing": 0, "documents_created": 0, "documents_updated": 0,
                    "documents_unchanged": 0, "documents_deleted": 0})
        db.session.execute(insert(Connection.__table__), connections)
        for start in range(0, len(runs), 2000):
            db.session.execute(insert(SyncRun.__table__), runs[start:start + 2000])
        db.session.commit()
        ids = workspace.id, actor.user_id
        db.session.remove()
    return ids[0], ids[1], clear


def unpaged_page(app, user_id: str, workspace_id: str) -> bytes:
    """The inventory as served before it had pages: every connection, serialized and rendered."""
    from flask import g, render_template

    from connections import service

    with app.test_request_context("/connections"):
        from flask import session

        session["user_id"], session["workspace_id"] = user_id, workspace_id
        app.preprocess_request()  # loads the member (g.actor), as a request would
        rows = service.list_connections(g.actor)
        body = render_template("connections/index.html", connections=rows, total=len(rows),
                               health_counts={}, page=1, pages=1, first_shown=1, filters=service.Filters(),
                               form={"status": "", "health": "", "connector_type": "", "q": ""}, error=None,
                               oauth_result=None, page_url=lambda form, page=1: "/connections",
                               any_connections=True, statuses=(), health_values=(), connector_options=())
        return body.encode()


def run(args) -> None:
    wait_for_quiet()
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
        app = make_app(Path(tmp), args.database_url)
        started = time.perf_counter()
        workspace_id, user_id, key = load(app, args.connections, args.runs)
        print(f"loaded {args.connections:,} connections with {args.runs} runs each in "
              f"{time.perf_counter() - started:.1f} s ({app.config['DATABASE_URL'].split(':')[0]})", file=sys.stderr)
        client = app.test_client()
        with client.session_transaction() as session:
            session["user_id"], session["workspace_id"] = user_id, workspace_id
        bearer = {"Authorization": f"Bearer {key}"}

        def get(url, headers=None):
            def call():
                response = client.get(url, headers=headers)
                assert response.status_code == 200, (url, response.status_code)
                return response.get_data()
            return call

        cases = {
            "all rows (before)": lambda: unpaged_page(app, user_id, workspace_id),
            "page 1": get("/connections"),
            "health=error": get("/connections?health=error"),
            "q=sales, page 2": get("/connections?q=sales&page=2"),
            "API, every connection": get("/api/v1/connections", bearer),
            "API, limit=50": get("/api/v1/connections?limit=50", bearer),
        }
        samples = {name: [] for name in cases}
        sizes = {}
        for call in cases.values():  # warm: templates compiled, caches filled
            call()
        for _ in range(args.rounds):
            for name, call in cases.items():
                begun = time.perf_counter()
                body = call()
                samples[name].append((time.perf_counter() - begun) * 1000)
                sizes[name] = len(body)

    rows = []
    for name, values in samples.items():
        values.sort()
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        rows.append([name, f"{statistics.median(values):.1f}", f"{p95:.1f}", f"{sizes[name] / 1024:,.0f} KiB"])
    print(f"\nConnections inventory at {args.connections:,} connections ({args.runs} runs each), "
          f"{args.rounds} rounds; {machine()}")
    print(table(["case", "median ms", "p95 ms", "size"], rows))
    page = statistics.median(samples["page 1"])
    before = statistics.median(samples["all rows (before)"])
    print(f"\npage 1: {page:.1f} ms median ({before / page:.1f}x faster than all rows, "
          f"{sizes['all rows (before)'] / sizes['page 1']:.0f}x smaller); target <= {TARGET_MS:.0f} ms: "
          f"{'met' if page <= TARGET_MS else 'NOT met'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5, help="finished sync runs per connection")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--quick", action="store_true", help="200 connections, 5 rounds (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.connections, args.rounds = 200, 5
    run(args)


if __name__ == "__main__":
    main()
