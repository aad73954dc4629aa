"""A no-change incremental sync after a full sync: its time, the rows it wrote, and its ratio
to the full sync's time.

    python -m bench.incremental_nochange                 # 100k deals, 3 repeats
    python -m bench.incremental_nochange --quick         # smoke run: 2k deals, 1 repeat
    python -m bench.incremental_nochange --with-prune    # also an incremental whose prune pass is due

Each repeat is a child process of its own with a fresh SQLite database: a full sync of the
Pipedrive ``deals`` stream from the sandbox (``--size`` deals), then an incremental sync with
nothing changed at the source, both queued and executed through the real worker path
(``sync.worker.drain``). Rows written are counted three ways: the run's ``records_written``,
its created/updated/deleted counters, and a comparison of every document's
``(id, updated_at, content_hash, seen_generation)`` before and after the incremental.

The incremental reads Pipedrive's API v2 ``/deals?updated_since=<cursor>&sort_by=update_time``
from the cursor the full sync left (its start, less 5 minutes). The light prune pass (listing every id to
drop deleted records) runs at most every ``PRUNE_INTERVAL_MINUTES`` (120) and is not due right
after a full sync; ``--with-prune`` measures one more incremental with it forced due, which
lists all ids (a full listing's requests, no document writes).
"""
from __future__ import annotations

import argparse
import os
import sys

if __package__ in (None, ""):           # python bench/incremental_nochange.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as common  # noqa: E402

MODULE = "bench.incremental_nochange"


def snapshot(app, connection_id: str) -> dict:
    from sqlalchemy import select

    from core.extensions import db
    from knowledge.models import Document

    with app.app_context():
        try:
            return {row[0]: tuple(row[1:]) for row in db.session.execute(
                select(Document.id, Document.updated_at, Document.content_hash, Document.seen_generation)
                .where(Document.connection_id == connection_id))}
        finally:
            db.session.remove()


def changed_rows(before: dict, after: dict) -> int:
    """Documents inserted, deleted or changed in any of the compared columns."""
    return (sum(1 for key, value in after.items() if before.get(key) != value)
            + len(before.keys() - after.keys()))


def child(url: str, size: int, with_prune: bool) -> dict:
    import requests

    common.only_streams(("deals",))
    stats = lambda: requests.get(f"{url}/_sandbox/stats", timeout=30).json()["requests"]["pipedrive"]["total"]  # noqa: E731
    with common.temp_dir("bench-inc-") as instance:
        app = common.make_app(instance, url)
        connection_id, actor = common.connect_pipedrive(app)
        full_seconds, full = common.sync(app, actor, connection_id, full=True)
        stored = common.document_count(app, connection_id, "pipedrive_deals")
        before = snapshot(app, connection_id)
        requests_before = stats()
        seconds, run = common.sync(app, actor, connection_id, full=False)
        requests_made = stats() - requests_before
        after = snapshot(app, connection_id)
        result = {"records": stored, "full_seconds": full_seconds, "full_written": full["records_written"],
                  "seconds": seconds, "records_written": run["records_written"],
                  "counters": {k: run[k] for k in ("documents_created", "documents_updated",
                                                   "documents_deleted", "documents_unchanged")},
                  "rows_changed": changed_rows(before, after), "requests": requests_made}
        if with_prune:
            app.config["PRUNE_INTERVAL_MINUTES"] = 0
            requests_before = stats()
            prune_seconds, prune_run = common.sync(app, actor, connection_id, full=False)
            result.update(prune_seconds=prune_seconds, prune_written=prune_run["records_written"],
                          prune_requests=stats() - requests_before,
                          prune_rows_changed=changed_rows(after, snapshot(app, connection_id)))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental_nochange",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="deals at the source (default 100000)")
    parser.add_argument("--repeats", type=int, default=3, help="full + incremental pairs (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="sandbox seed (default 42)")
    parser.add_argument("--with-prune", action="store_true",
                        help="also time an incremental whose prune pass is due (lists every id)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2000 deals, 1 repeat")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        common.emit(child(args.url, args.size, args.with_prune))
        return 0

    size = 2000 if args.quick else args.size
    repeats = 1 if args.quick else max(1, args.repeats)
    print(f"# No-change incremental after a full sync: {size:,} Pipedrive deals, sandbox over HTTP")
    print(f"# {common.machine()}; {repeats} repeat(s), each a fresh database in its own process")
    results = []
    with common.Sandbox(size, args.seed) as sandbox:
        sandbox.warm()
        for repeat in range(repeats):
            child_args = ["--child", "--url", sandbox.url, "--size", str(size)]
            result = common.run_child(MODULE, child_args + (["--with-prune"] if args.with_prune else []))
            if result["records"] != size:
                raise RuntimeError(f"the full sync stored {result['records']} records, expected {size}")
            results.append(result)
            line = (f"  run {repeat + 1}: full {result['full_seconds']:6.2f} s, incremental "
                    f"{result['seconds'] * 1000:7.1f} ms ({result['seconds'] / result['full_seconds']:.3%}), "
                    f"records_written {result['records_written']}, rows changed {result['rows_changed']}, "
                    f"{result['requests']} request(s)")
            if args.with_prune:
                line += (f"; with prune {result['prune_seconds']:.2f} s, {result['prune_requests']} requests, "
                         f"rows changed {result['prune_rows_changed']}")
            print(line, flush=True)

    median = common.median
    full = median([r["full_seconds"] for r in results])
    inc = median([r["seconds"] for r in results])
    ratio = median([r["seconds"] / r["full_seconds"] for r in results])
    rows = [[f"{size:,}", f"{full:.2f} s", f"{inc * 1000:.1f} ms {common.spread([r['seconds'] * 1000 for r in results], '{:.1f}')}".strip(),
             f"{ratio:.3%}", str(max(r["records_written"] for r in results)),
             str(max(r["rows_changed"] for r in results)), str(max(r["requests"] for r in results))]]
    print("\n## Medians")
    print(common.table(["records", "full sync", "no-change incremental [min..max]", "incremental / full",
                        "records_written (max)", "document rows changed (max)", "requests"], rows))
    if args.with_prune:
        prune = median([r["prune_seconds"] for r in results])
        print(f"incremental with the prune pass due: {prune:.2f} s ({prune / full:.1%} of the full sync), "
              f"{max(r['prune_requests'] for r in results)} requests, "
              f"rows changed {max(r['prune_rows_changed'] for r in results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
