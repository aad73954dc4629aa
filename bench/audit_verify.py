"""Benchmark of audit-chain verification at 100k and 1M entries: the full walk (``flask audit
verify --full``), the API's verification before and after a signed checkpoint exists, and two
peers over the same entries in the same run.

    python -m bench.audit_verify                              # 100,000 and 1,000,000 entries
    python -m bench.audit_verify --entries 100000             # one scale
    python -m bench.audit_verify --database-url postgresql://postgres@127.0.0.1:5432/bench_audit

What is timed, per scale:

* ``full walk``: ``audit.chain.verify(ws, full=True)``, which ``flask audit verify --full`` runs
  per chain: read every entry from the anchor in batches, rebuild its canonical bytes
  (``audit.chain.canonical``: compact JSON with sorted keys), SHA-256 them, compare with the
  stored hash and the next entry's ``prev_hash``;
* ``API, no checkpoint``: ``GET /api/v1/audit-logs/verify`` through the Flask app in this process
  (the test client, no network) before any checkpoint exists: what every call cost before
  checkpoints (the same walk, plus authentication and the response);
* ``checkpoint``: ``audit.chain.checkpoint`` the first time (a walk from the anchor, then the
  signed row), what the hourly housekeeping pays once;
* ``API, from checkpoint``: the same request after the checkpoint, with ``--since`` entries
  (default 1,000: a busy hour) written after it; median / p95 of ``--rounds``;
* ``full-walk status``: ``audit.chain.full_walk_status`` (what the API's answer adds for
  ``full_verification``: the chain's latest full walk and pending request), with a walk recorded
  before the N entries (the entry it reads is N places back), median / p95 of ``--rounds``, and
  ``due_full_walks`` (the scheduler leader's poll every minute), median;
* peers: ``sha256 only``, ``hashlib.sha256`` over each entry's canonical bytes held in memory
  (the bare hashing cost of the same bytes), and ``read only``, the walk's batched query over the
  same rows with nothing done to them (what the database read costs). The full walk minus both is
  building the canonical JSON.

Data: a fresh database (SQLite under a temporary instance, unless ``--database-url``), one
workspace whose chain gets N entries shaped like ``query.executed`` ones (filters and a result
count in ``details``, an actor, a client address), bulk-inserted with their hashes computed by
``audit.chain.entry_hash`` and the chain head set, so they verify exactly like entries the
application wrote.

There are no assertions beyond the chain verifying intact: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import bench_workspace, machine, load, table, wait_for_quiet  # noqa: E402

ACTIONS = ("query.executed", "connection.checked", "sync.requested", "auth.sign_in")


def _rows(workspace_id: str, start_seq: int, previous: str, count: int, now, keep: list | None):
    """``count`` entries after place ``start_seq`` (whose hash is ``previous``), hashed as the
    application hashes them; their canonical bytes appended to ``keep`` for the sha256 peer."""
    from audit import chain

    rows = []
    for n in range(count):
        seq = start_seq + n + 1
        fields = SimpleNamespace(
            workspace_id=workspace_id, seq=seq, created_at=now - timedelta(seconds=(10_000_000 - seq) % 10_000_000),
            actor_type="api_key", actor_id=f"key_{seq % 7:026d}", actor_label=f"ingest key {seq % 7}",
            action=ACTIONS[seq % len(ACTIONS)], target_type="vector_store", target_id=f"vs_{seq % 13:026d}",
            outcome="success", client_address="203.0.113.7",
            details={"query": None, "filters": {"source": ["github"], "updated_after": "2026-11-01"},
                     "result_count": seq % 50, "limit": 10, "via": "api"},
            prev_hash=previous)
        raw = chain.canonical(fields)
        if keep is not None:
            keep.append(raw)
        previous = hashlib.sha256(raw).hexdigest()
        rows.append({**vars(fields), "entry_hash": previous})
    return rows, previous


def append(workspace_id: str, count: int, keep: list | None = None, batch: int = 20_000) -> None:
    """Append ``count`` entries to the workspace's chain, bulk, and move its head."""
    from sqlalchemy import insert, select, update

    from audit.chain import HEADS
    from audit.models import AuditEvent
    from core.extensions import db
    from core.timeutil import utcnow

    seq, previous = db.session.execute(select(HEADS.c.seq, HEADS.c.head_hash).where(HEADS.c.chain == workspace_id)).one()
    now = utcnow()
    for start in range(0, count, batch):
        rows, previous = _rows(workspace_id, seq, previous, min(batch, count - start), now, keep)
        db.session.execute(insert(AuditEvent), rows)
        seq += len(rows)
        db.session.execute(update(HEADS).where(HEADS.c.chain == workspace_id).values(seq=seq, head_hash=previous))
        db.session.commit()


def peer_read_only(workspace_id: str, batch: int = 5000) -> int:
    """The walk's query, batch by batch, the rows read and dropped."""
    from sqlalchemy import select

    from audit.chain import _columns, _in_chain
    from audit.models import AuditEvent
    from core.extensions import db

    connection, after, seen = db.session.connection(), 0, 0
    while True:
        rows = connection.execute(select(*_columns()).where(_in_chain(workspace_id), AuditEvent.seq > after)
                                  .order_by(AuditEvent.seq).limit(batch)).all()
        seen += len(rows)
        if len(rows) < batch:
            return seen
        after = rows[-1].seq


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def measure(entries: int, since: int, rounds: int, database_url: str | None) -> dict:
    from bench.usage import make_app

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as instance:
        app = make_app(Path(instance), database_url)
        from audit import chain
        from core.extensions import db

        with app.app_context():
            workspace, actor, clear = bench_workspace(["admin"])
            ws = workspace.id
            chain.full_walk(ws, "cli")  # the latest full walk, N entries back when the status is read
            canonical_bytes: list[bytes] = []
            seed_s, _ = _timed(lambda: append(ws, entries, canonical_bytes))
            from sqlalchemy import text

            db.session.execute(text("ANALYZE"))
            db.session.commit()
            total_bytes = sum(map(len, canonical_bytes))

            def sha_only():
                for raw in canonical_bytes:
                    hashlib.sha256(raw).hexdigest()
            sha_s, _ = _timed(sha_only)
            canonical_bytes.clear()
            db.session.rollback()
            read_s, read_n = _timed(lambda: peer_read_only(ws))
            db.session.rollback()
            full_s, full = _timed(lambda: chain.verify(ws, full=True))
            assert full.intact, full
            db.session.rollback()

        client = app.test_client()
        headers = {"Authorization": f"Bearer {clear}"}

        def api() -> tuple[float, dict]:
            started = time.perf_counter()
            response = client.get("/api/v1/audit-logs/verify", headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and response.json["intact"], response.get_data(as_text=True)
            return elapsed, response.json

        api_before_s, before = api()
        assert before["checkpoint_seq"] is None
        with app.app_context():
            checkpoint_s, (result, place) = _timed(lambda: chain.checkpoint(ws))
            assert result.intact and place
            append(ws, since)
            db.session.remove()
        api()  # warm
        samples, answer = [], None
        for _ in range(rounds):
            elapsed, answer = api()
            samples.append(elapsed)
        cli = app.test_cli_runner()
        cli_s, out = _timed(lambda: cli.invoke(args=["audit", "verify", "--workspace", ws]))
        assert out.exit_code == 0, out.output
        with app.app_context():
            status, poll = [], []
            for _ in range(rounds):
                status.append(_timed(lambda: chain.full_walk_status(ws))[0])
                db.session.rollback()
                poll.append(_timed(chain.due_full_walks)[0])
            dialect = db.engine.dialect.name
            db.engine.dispose()
    return {"entries": entries, "dialect": dialect, "seed_s": seed_s, "bytes": total_bytes, "sha_s": sha_s,
            "read_s": read_s, "read_n": read_n, "full_s": full_s, "full_checked": full.entries_checked,
            "api_before_s": api_before_s, "checkpoint_s": checkpoint_s, "since": since,
            "api_after": (statistics.median(samples), sorted(samples)[max(int(len(samples) * 0.95) - 1, 0)]),
            "api_after_checked": answer["entries_checked"], "cli_s": cli_s,
            "status": (statistics.median(status), sorted(status)[max(int(len(status) * 0.95) - 1, 0)]),
            "poll": statistics.median(poll), "load": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, action="append",
                        help="entries in the measured chain (repeatable; default 100,000 and 1,000,000)")
    parser.add_argument("--since", type=int, default=1000, help="entries written after the checkpoint")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args()
    if not args.no_wait:
        wait_for_quiet()
    print(machine())
    results = []
    for n in args.entries or [100_000, 1_000_000]:
        results.append(measure(n, args.since, args.rounds, args.database_url))
        r = results[-1]
        print(f"  {n:,} entries ({r['dialect']}): seeded in {r['seed_s']:.0f} s, {r['load']}", file=sys.stderr,
              flush=True)

    def rate(count, seconds):
        return f"{count / seconds / 1000:,.0f}k/s"

    print()
    print("Verifying the whole chain, seconds (entries per second), and the peers over the same entries:")
    print(table(["entries", "database", "full walk", "API, no checkpoint", "peer: sha256 only", "peer: read only",
                 "canonical MB", "load"],
                [[f"{r['entries']:,}", r["dialect"], f"{r['full_s']:.2f} ({rate(r['full_checked'], r['full_s'])})",
                  f"{r['api_before_s']:.2f}", f"{r['sha_s']:.2f} ({rate(r['entries'], r['sha_s'])})",
                  f"{r['read_s']:.2f} ({rate(r['read_n'], r['read_s'])})", f"{r['bytes'] / 1e6:,.0f}", r["load"]]
                 for r in results]))
    print()
    print("With a signed checkpoint at the head, then --since entries written:")
    print(table(["entries", "database", "first checkpoint, s", "since", "API from checkpoint, ms (median / p95)",
                 "entries recomputed", "flask audit verify, s"],
                [[f"{r['entries']:,}", r["dialect"], f"{r['checkpoint_s']:.2f}", f"{r['since']:,}",
                  "{:.1f} / {:.1f}".format(*(v * 1000 for v in r["api_after"])), f"{r['api_after_checked']:,}",
                  f"{r['cli_s']:.2f}"] for r in results]))
    print()
    print("The latest full walk (recorded before the N entries), as the API's answer reads it, and the leader's poll:")
    print(table(["entries", "database", "full-walk status, ms (median / p95)", "due_full_walks, ms (median)"],
                [[f"{r['entries']:,}", r["dialect"], "{:.2f} / {:.2f}".format(*(v * 1000 for v in r["status"])),
                  f"{r['poll'] * 1000:.2f}"] for r in results]))


if __name__ == "__main__":
    main()
