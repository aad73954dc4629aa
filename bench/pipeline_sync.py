"""Pipeline sync: one request of 5,000 operations through the whole HTTP path, on SQLite.

    python -m bench.pipeline_sync                    # 5,000 operations, 7 runs per scenario
    python -m bench.pipeline_sync --ops 5000 --runs 11 --content-bytes 2000
    python -m bench.pipeline_sync --dir /dev/shm      # the database in memory: no disk in the figure

What is timed: ``POST /v1/pipeline/sync`` through the Flask test client (no network), i.e. the
real request path: X-API-Key authentication, the database-backed rate limit, JSON parsing,
validation of every operation, the one-transaction write through ``knowledge.ingest`` (Core
bulk statements) with its ``PipelineSync`` row and audit event, the commit, the JSON answer.
The database is a fresh SQLite file (WAL, ``synchronous=NORMAL``, as the app configures it)
under a temporary instance; the request body is built and serialized before the clock starts.

Scenarios (each run on its own namespace, so runs are independent):

* ``insert``: 5,000 upserts of new records (the first sync of a namespace);
* ``update``: the same 5,000 ids again with changed content (every row rewritten);
* ``unchanged``: the same 5,000 again, unchanged (hashes match: nothing is written);
* ``full_refresh``: 5,000 upserts, half of them new, in ``full_refresh`` mode over a namespace
  of 5,000 (the other 2,500 are removed);
* ``delete``: 5,000 deletes of stored records.

Prints the median (and min / max) wall time per scenario, the median of the server's own
``processing_time_ms`` (validation and writes, up to the commit) and the median CPU time of the
process during the request (the figure to read on a busy machine: waiting for a core is not in it;
on two or more cores it can exceed the wall time, as a worker thread prepares rows while SQLite
writes), and the load average at the start and the end.

Measured on the 2-vCPU development VM, idle (load average 0.65 to 1.1, this benchmark included),
defaults (5,000 operations, ~500 bytes of content), median wall ms of 7 runs (of 15 runs):

    scenario       before   after
    insert            794   297 (278)
    update           1016   310 (307)
    unchanged         319   169 (165)
    full_refresh      681   358 (396)
    delete            234   204 (257)

"before" is the ingest path of Core executemany statements with SQLAlchemy's per-row parameter
processing. About 130 to 170 ms of each "after" figure was outside ``knowledge.pipeline`` and
``knowledge.ingest``: parsing the 4.3 MB body (~35 ms), the commit (45 to 75 ms, most of it
SQLite's WAL auto-checkpoint, which the committing connection ran once the WAL held more than
1,000 pages: every such request), Flask and authentication (~15 ms), and Python's full garbage
collection (~100 ms), which the body's parsing triggered in one request out of two or three.

Since then the checkpoint runs in a background thread (``core/sqlite_wal.py``), the objects made
at start are frozen (``gc.freeze``) and the collector is paused while the body is parsed. On a
later machine of the same kind, about 3x faster, 15 runs each, the same hour (load 0.9-1.1):

    scenario       before   after
    insert            100    76
    update            110   113
    unchanged          62    71
    full_refresh      169   143
    delete            110    78
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

if __package__ in (None, ""):           # python bench/pipeline_sync.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCENARIOS = ("insert", "update", "unchanged", "full_refresh", "delete")


def make_app(instance: str):
    os.environ["TRIBUTARY_INSTANCE_PATH"] = instance
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{instance}/tributary.db", "AUTO_MIGRATE": True,
                      "SECRET_KEY": "bench", "EMBEDDED_WORKERS": 0, "SCHEDULER_ENABLED": False,
                      "PIPELINE_RATE_LIMIT_PER_MINUTE": 1_000_000})
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    return app


def setup(app) -> tuple[str, str, str]:
    """A workspace, a pipeline key and a named store: (organization id, key, store id)."""
    from bench._common import bench_workspace
    from knowledge import stores

    with app.app_context():
        workspace, actor, clear = bench_workspace(["pipeline"], "pipeline")
        store = stores.create_store(actor, "bench", "benchmark store")
        return workspace.id, clear, store.id


def operations(namespace: str, count: int, *, content_bytes: int, version: int = 0, start: int = 0,
               action: str = "upsert") -> list[dict]:
    if action == "delete":
        return [{"action": "delete", "id": f"rec_{i}", "namespace": namespace} for i in range(start, start + count)]
    filler = ("lorem ipsum dolor sit amet " * (content_bytes // 27 + 1))[:content_bytes]
    return [{"action": "upsert", "id": f"rec_{i}", "namespace": namespace, "title": f"Record {i} v{version}",
             "content": f"{filler} ({i}, v{version})", "url": f"https://example.com/records/{i}",
             "author": "pipeline@example.com", "type": "task", "created_at": "2026-01-02T03:04:05Z",
             "updated_at": f"2026-04-13T10:{version % 60:02d}:00Z",
             "metadata": {"status": "open", "priority": i % 5, "tags": ["a", "b"]}}
            for i in range(start, start + count)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--content-bytes", type=int, default=500)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--dir", default=None, help="where the temporary instance (and its database) lives")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    if not args.no_wait:
        from bench._common import wait_for_quiet

        wait_for_quiet()

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-", dir=args.dir) as instance:
        app = make_app(instance)
        organization_id, key, store_id = setup(app)
        client = app.test_client()
        headers = {"X-API-Key": key, "Content-Type": "application/json"}

        def post(ops: list[dict], mode: str = "incremental") -> tuple[float, float, dict]:
            body = json.dumps({"organization_id": organization_id, "sync_mode": mode, "operations": ops,
                               "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": store_id})
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post("/v1/pipeline/sync", data=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            cpu = (time.process_time() - cpu_started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")
            return elapsed, cpu, response.get_json()

        n, size = args.ops, args.content_bytes
        post(operations("warmup", 50, content_bytes=size))  # imports, statement caches
        print(f"pipeline sync, {n} operations per request, ~{size} bytes of content each, SQLite (WAL), "
              f"{args.runs} runs per scenario; load average {_load()}", flush=True)
        print(f"{'scenario':<14}{'median ms':>10}{'min':>8}{'max':>8}{'server ms':>11}{'cpu ms':>8}")
        for scenario in scenarios:
            walls, servers, cpus = [], [], []
            for run in range(args.runs):
                namespace = f"{scenario}_{run}"
                if scenario == "insert":
                    ops, mode = operations(namespace, n, content_bytes=size), "incremental"
                elif scenario in ("update", "unchanged", "delete"):
                    post(operations(namespace, n, content_bytes=size))
                    if scenario == "delete":
                        ops = operations(namespace, n, content_bytes=size, action="delete")
                    else:
                        ops = operations(namespace, n, content_bytes=size, version=int(scenario == "update"))
                    mode = "incremental"
                else:  # full_refresh: 5,000 stored; send the upper half again plus as many new ones
                    post(operations(namespace, n, content_bytes=size))
                    ops, mode = operations(namespace, n, content_bytes=size, start=n // 2), "full_refresh"
                wall, cpu, answer = post(ops, mode)
                assert answer["processed"] == n, answer
                walls.append(wall)
                cpus.append(cpu)
                servers.append(answer["processing_time_ms"])
            print(f"{scenario:<14}{statistics.median(walls):>10.0f}{min(walls):>8.0f}{max(walls):>8.0f}"
                  f"{statistics.median(servers):>11.0f}{statistics.median(cpus):>8.0f}", flush=True)
        print(f"load average at the end: {_load()}", flush=True)
        from core.extensions import db

        with app.app_context():
            db.engine.dispose()


def _load() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine shows in the figures)."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
