"""Benchmark of GET /api/v1/usage at 10k, 100k and 1M documents, against a naive peer, and the
cost of the triggers that keep the stored-documents rollup on writes.

    python -m bench.usage                          # 10,000 and 100,000 documents
    python -m bench.usage --documents 1000000      # one scale
    python -m bench.usage --database-url postgresql://postgres@127.0.0.1:5432/bench_usage

What is timed: one request at a time through the Flask app in this process (the test client, no
network), from the WSGI call to the last byte of the body: key authentication, every query of
the report (storage, queries with p50/p95, sync runs per connection, API calls per key, pipeline
operations, each with its series), serialization through the response models, and the count of
the call itself.

The naive peer is the same endpoint with the storage figures computed the obvious way, by
scanning the documents (``count(*)`` and ``sum(length(title) + length(content))`` of the
workspace's documents) and counting the chunks on their workspace index, instead of summing the
trigger-kept rollups: the design choice this benchmark measures. Everything else is shared, so
the difference is that choice alone.

Data: a fresh database (SQLite in WAL mode under a temporary instance, unless
``--database-url``), one workspace of N documents (titles ~30 bytes, content ~600 bytes) in 20
connections' and stores' origins, one chunk per document (99 % embedded), N / 20 queries logged
over the month, 2,000 sync runs, 600 pipeline syncs and a month of API calls for five keys; and a
second workspace of N / 10 documents that must not be counted. The rollups are filled by
``usage.service.recount_storage`` (the migrations' backfill) after a bulk load without triggers.

Write cost: the median time of a pipeline-sync request upserting 2,000 new documents and of one
deleting them (the ingest path, through the API), with the triggers in place and with them
dropped, alternated. SQLite only: on PostgreSQL the statement triggers stay in both columns
(they run once per statement, not per row), so its two columns measure the same thing.

There are no assertions: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import importlib.util
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

WORDS = ("deal renewal invoice customer roadmap sprint incident review launch pricing contract support "
         "meeting notes design budget hiring report quarterly release migration onboarding").split()


def _migration(name: str = "0012_usage_and_invitations.py"):
    path = REPO / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location("usage_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_app(instance: Path, database_url: str | None):
    import os

    os.environ["TRIBUTARY_INSTANCE_PATH"] = str(instance)
    from app import create_app
    from bench._common import quiet_logs

    app = create_app({"DATABASE_URL": database_url or f"sqlite:///{instance / 'tributary.db'}",
                      "AUTO_MIGRATE": True, "SECRET_KEY": "bench", "EMBEDDED_WORKERS": 0,
                      "SCHEDULER_ENABLED": False, "WTF_CSRF_ENABLED": False})
    if database_url:  # a shared PostgreSQL: start from an empty schema
        from flask_migrate import upgrade
        from sqlalchemy import text

        from core.extensions import db

        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            upgrade(directory=app.extensions["migrate"].directory)
    return app


def _triggers(on: bool) -> None:
    """Drop or recreate the SQLite triggers (PostgreSQL's statement triggers stay: they cost
    one statement per insert statement, not one per row)."""
    from sqlalchemy import text

    from core.extensions import db

    if db.engine.dialect.name != "sqlite":
        return
    chunks = _migration("0013_invitation_expiry_audit_checkpoints.py")
    for name in ("usage_documents_insert", "usage_documents_delete", "usage_documents_update", *chunks.TRIGGERS):
        db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    if on:
        for statement in _migration().SQLITE_TRIGGERS + chunks.SQLITE_TRIGGERS:
            db.session.execute(text(statement))
    db.session.commit()


def _text(rng: random.Random, size: int) -> str:
    words = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def _documents(rng, workspace_id, origins, start, count, now):
    for i in range(start, start + count):
        origin = origins[i % len(origins)]
        yield {"id": f"doc_{workspace_id[-6:]}{i:09d}", "workspace_id": workspace_id, "origin_id": origin,
               "vector_store_id": origin if origin.startswith("vs_") else None, "namespace": "bench",
               "external_id": str(i), "source": "bench", "type": "document", "title": _text(rng, 30),
               "content": _text(rng, 600), "content_hash": f"{i:064d}", "metadata_": {}, "needs_chunking": False,
               "created_at": now, "updated_at": now}


def seed(app, documents: int) -> str:
    """Fill the database; returns an admin key of the measured workspace."""
    from sqlalchemy import insert

    from accounts import service as accounts
    from accounts.models import ApiKey
    from connections.models import Connection
    from core.extensions import db
    from core.timeutil import utcnow
    from knowledge import stores
    from knowledge.models import Chunk, Document, PipelineSync, QueryLog
    from sync.models import SyncRun
    from usage.models import ApiKeyUsage
    from usage.service import recount_storage

    rng = random.Random(7)
    now = utcnow()
    with app.app_context():
        workspace, actor, clear = bench_workspace(["admin"])
        other = accounts.create_workspace(actor, "Other")
        store = stores.default_store(workspace.id).id
        connections = []
        for i in range(19):
            connection = Connection(workspace_id=workspace.id, connector_type="github", name=f"Repo {i}",
                                    status="connected", settings={}, connected_at=now)
            db.session.add(connection)
            db.session.flush()
            connections.append(connection.id)
        db.session.commit()
        origins = [store, *connections]
        _triggers(False)
        batch = 20_000
        for ws, total, its_origins in ((workspace.id, documents, origins), (other.id, documents // 10, ["vs_other"])):
            for start in range(0, total, batch):
                rows = list(_documents(rng, ws, its_origins, start, min(batch, total - start), now))
                db.session.execute(insert(Document), rows)
                db.session.execute(insert(Chunk), [
                    {"document_id": r["id"], "workspace_id": ws, "vector_store_id": r["vector_store_id"] or store,
                     "position": 0, "text": r["title"], "start": 0, "end": 30, "token_count": 8,
                     "embedding": b"\0" * 1536 if j % 1000 == 0 else None,
                     "embedded_at": None if j % 100 == 0 else now, "created_at": now}
                    for j, r in enumerate(rows)])
                db.session.commit()
        _triggers(True)
        recount_storage()
        month = [now - timedelta(seconds=rng.randrange(30 * 86400)) for _ in range(max(documents // 20, 100))]
        db.session.execute(insert(QueryLog), [
            {"id": f"qry_{i:016d}", "workspace_id": workspace.id, "via": "api", "query": "q", "filters": {},
             "result_limit": 10, "result_ids": [], "candidates": {}, "latency_ms": rng.lognormvariate(3.5, 0.6),
             "created_at": at} for i, at in enumerate(month)])
        db.session.execute(insert(SyncRun), [
            {"id": f"run_{i:016d}", "workspace_id": workspace.id, "connection_id": connections[i % 19],
             "status": "failed" if i % 17 == 0 else "completed", "triggered_by": "schedule", "mode": "incremental",
             "records_written": rng.randrange(500), "created_at": now - timedelta(minutes=20 * i)}
            for i in range(2000)])
        db.session.execute(insert(PipelineSync), [
            {"id": f"sync_{i:016d}", "workspace_id": workspace.id, "vector_store_id": store, "sync_mode": "incremental",
             "processed": 50, "upserted": 45, "deleted": 5, "by_namespace": {}, "processing_time_ms": 40,
             "created_at": now - timedelta(hours=i)} for i in range(600)])
        hour = now.replace(minute=0, second=0, microsecond=0)
        keys = [f"key_bench{k:011d}" for k in range(5)]
        db.session.execute(insert(ApiKey), [{"id": k, "workspace_id": workspace.id, "name": k, "prefix": k[:12],
                                             "key_hash": f"{n:064d}", "scopes": ["query"], "kind": "member",
                                             "created_at": now} for n, k in enumerate(keys)])
        db.session.execute(insert(ApiKeyUsage), [
            {"api_key_id": k, "hour": hour - timedelta(hours=h), "workspace_id": workspace.id,
             "calls": rng.randrange(200), "errors": rng.randrange(5)} for k in keys for h in range(24 * 31)])
        db.session.commit()
        # Planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` would have them after
        # a bulk load: without them PostgreSQL walks the workspace's documents for the chunking
        # backlog (115 ms at 100k) instead of the chunk queue's index (0.4 ms).
        from sqlalchemy import text

        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return clear


_rollup_storage = None  # usage.service.storage, set by measure()


def naive_storage(workspace_id: str) -> dict:
    """The peer: the same figures by scanning the documents and counting the chunks on their
    workspace index (no rollups)."""
    from sqlalchemy import func, select

    from core.extensions import db
    from knowledge.models import Chunk, Document
    length = func.octet_length if db.engine.dialect.name == "postgresql" else (
        lambda c: func.length(func.cast(c, db.LargeBinary)))
    figures = _rollup_storage(workspace_id)  # the backlog figures, shared
    count, size = db.session.execute(select(func.count(), func.coalesce(
        func.sum(length(Document.title) + length(Document.content)), 0)).where(
        Document.workspace_id == workspace_id)).one()
    chunks = db.session.scalar(select(func.count()).select_from(Chunk).where(Chunk.workspace_id == workspace_id))
    figures["documents"], figures["chunks"] = int(count), int(chunks)
    figures["bytes"]["total"] += int(size) - figures["bytes"]["text"]
    figures["bytes"]["text"] = int(size)
    return figures


def write_cost(app, key: str, rounds: int = 5) -> dict:
    """Median ms of a pipeline-sync request upserting 2,000 new documents, then of one deleting
    them (the ingest path, through the API), with the triggers in place and with them dropped."""
    from core.extensions import db

    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    with app.app_context():
        from knowledge import stores

        workspace_id = db.session.scalar(db.text("SELECT id FROM workspaces WHERE name = 'Bench'"))
        store = stores.default_store(workspace_id).id
    rng = random.Random(11)
    out: dict[str, list] = {}
    for label, on in (("with triggers", True), ("without triggers", False), ("with triggers", True),
                      ("without triggers", False)):
        with app.app_context():
            _triggers(on)
        for r in range(rounds):
            namespace = f"write_{len(out.get(label, []))}_{r}"
            body = {"organization_id": workspace_id, "vector_store_id": store, "sync_mode": "incremental",
                    "sync_timestamp": "2026-12-01T00:00:00Z",
                    "operations": [{"action": "upsert", "id": str(i), "namespace": namespace,
                                    "title": _text(rng, 30), "content": _text(rng, 600)} for i in range(2000)]}
            started = time.perf_counter()
            assert client.post("/v1/pipeline/sync", json=body, headers=headers).status_code == 200
            upserted = (time.perf_counter() - started) * 1000
            body["operations"] = [{"action": "delete", "id": str(i), "namespace": namespace} for i in range(2000)]
            started = time.perf_counter()
            assert client.post("/v1/pipeline/sync", json=body, headers=headers).status_code == 200
            out.setdefault(label, []).append((upserted, (time.perf_counter() - started) * 1000))
    with app.app_context():
        _triggers(True)
    return {label: (statistics.median(u for u, _ in v), statistics.median(d for _, d in v)) for label, v in out.items()}


def time_sections(app, rounds: int = 9) -> dict[str, float]:
    """Median ms of each part of the report (``usage.service``), called directly."""
    from sqlalchemy import text

    from core.extensions import db
    from usage import service

    with app.app_context():
        ws = db.session.scalar(text("SELECT id FROM workspaces WHERE name = 'Bench'"))
        window = service.parse_window({"period": "month"})
        parts = {"storage": lambda: service.storage(ws), "queries": lambda: service.queries(ws, window),
                 "sync": lambda: service.syncs(ws, window), "api_calls": lambda: service.api_calls(ws, window),
                 "pipeline": lambda: service.pipeline(ws, window)}
        out = {}
        for name, part in parts.items():
            part()
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                part()
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = statistics.median(samples)
        db.session.remove()
    return out


def measure(documents: int, rounds: int, database_url: str | None) -> dict:
    from usage import service

    with tempfile.TemporaryDirectory(prefix="bench-usage-") as instance:
        app = make_app(Path(instance), database_url)
        started = time.perf_counter()
        key = seed(app, documents)
        seeded = time.perf_counter() - started
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        global _rollup_storage
        original = _rollup_storage = service.storage
        rollup = original

        def timed() -> float:
            started = time.perf_counter()
            response = client.get("/api/v1/usage?period=month", headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)
            return elapsed

        samples = {"rollup": [], "naive": []}
        answers = {}
        for _ in range(2):  # warm the caches of both
            for name, storage in (("rollup", rollup), ("naive", naive_storage)):
                service.storage = storage
                timed()
                answers[name] = client.get("/api/v1/usage?period=month", headers=headers).get_json()["storage"]
        for _ in range(rounds):  # interleaved: drift hits both alike
            for name, storage in (("rollup", rollup), ("naive", naive_storage)):
                service.storage = storage
                samples[name].append(timed())
        service.storage = original
        assert answers["rollup"] == answers["naive"], (answers["rollup"], answers["naive"])
        sections = time_sections(app)
        writes = write_cost(app, key)
        from core.extensions import db

        with app.app_context():
            dialect = db.engine.dialect.name
            db.engine.dispose()
    stats = {name: (statistics.median(v), sorted(v)[max(int(len(v) * 0.95) - 1, 0)]) for name, v in samples.items()}
    return {"documents": documents, "dialect": dialect, "seed_s": seeded, "stats": stats, "writes": writes,
            "storage": answers["rollup"], "sections": sections}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, action="append",
                        help="documents in the measured workspace (repeatable; default 10,000 and 100,000)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args()
    if not args.no_wait:
        wait_for_quiet()
    print(machine())
    results = [measure(n, args.rounds, args.database_url) for n in (args.documents or [10_000, 100_000])]
    rows = []
    for r in results:
        (rollup_p50, rollup_p95), (naive_p50, naive_p95) = r["stats"]["rollup"], r["stats"]["naive"]
        rows.append([f"{r['documents']:,}", r["dialect"], f"{rollup_p50:.1f} / {rollup_p95:.1f}",
                     f"{naive_p50:.1f} / {naive_p95:.1f}", f"{naive_p50 / rollup_p50:.1f}x", f"{r['seed_s']:.0f} s"])
    print()
    print(f"GET /api/v1/usage?period=month, ms (median / p95 of {args.rounds}), same answers:")
    print(table(["documents", "database", "Tributary (rollup)", "naive (scan)", "naive / ours", "seed"], rows))
    print()
    print("Where the time goes: each part of the report called directly, ms (median of 9):")
    names = list(results[0]["sections"])
    print(table(["documents", *names], [[f"{r['documents']:,}", *(f"{r['sections'][n]:.1f}" for n in names)]
                                        for r in results]))
    print()
    print("Pipeline sync of 2,000 new documents, ms (median of 10): upsert / delete")
    print(table(["documents", "with triggers", "without triggers", "insert overhead"],
                [[f"{r['documents']:,}", "{:.0f} / {:.0f}".format(*r["writes"]["with triggers"]),
                  "{:.0f} / {:.0f}".format(*r["writes"]["without triggers"]),
                  f"{r['writes']['with triggers'][0] / r['writes']['without triggers'][0] - 1:+.0%}"] for r in results]))


if __name__ == "__main__":
    main()
