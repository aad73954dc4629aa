"""Full-sync throughput: Pipedrive deals from the provider sandbox over HTTP into documents,
against dlt's ``rest_api`` source loading the same endpoint into duckdb, in the same run.

    python -m bench.sync_throughput                  # 10k and 100k deals, 3 repeats each
    python -m bench.sync_throughput --quick          # a smoke run: 2k deals, 1 repeat
    python -m bench.sync_throughput --sizes 10000 --repeats 5 --no-peer

What is compared. The sandbox is started once per size (``python -m sandbox --scale N``: N
deals) on a free port. Each measurement is a child process of its own, so its peak RSS (the
child's ``ru_maxrss``) is that measurement's alone:

* ``tributary``: a fresh SQLite database under a temporary instance, a Pipedrive connection
  (its key checked by the sandbox), a full sync queued and executed by the real worker path
  (``sync.worker.drain``): Pipedrive API v2 ``GET /api/v2/deals?sort_by=id&limit=500`` cursor
  page by page (plus the lookups of the names a deal's document shows: users, stages, persons
  and organizations by id), documents upserted with their checkpoint in one transaction per
  page, deletion detection at the end. Only the ``deals`` stream is synced (the catalog entry is narrowed in
  the child), so "records" are exactly the N deals the peer loads.
* ``dlt``: ``dlt.sources.rest_api`` with the same path, parameters and page size, the
  ``x-api-token`` header, a cursor paginator on ``additional_data.next_cursor`` -> ``cursor``,
  ``pipeline.run`` into a fresh duckdb file (extract, normalize, load).
* ``http-only`` (reference): the same pages fetched with ``requests`` and parsed, nothing
  stored: what the sandbox and HTTP cost by themselves.

Before anything is timed the sandbox is warmed: its deal index is built and every page is read
once, so it has rendered each deal's JSON (it keeps it, and serves a page by splicing 500 kept
records: about the same cost at any size, like a real provider's roughly constant per-page
latency). Without that pass the first measured tool would pay the rendering for all the others.

Timed: the sync run (``drain``) and ``pipeline.run``; set-up (app, migrations, imports) is not.
Records/s = stored records / seconds. Repeats alternate which tool goes first.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if __package__ in (None, ""):           # python bench/sync_throughput.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as common  # noqa: E402

MODULE = "bench.sync_throughput"
TOOLS = ("tributary", "dlt", "http-only")
DEAL_PARAMS = {"sort_by": "id", "sort_direction": "asc"}


# -- the measurements (each in its own child process) -------------------------------------------

def child_tributary(url: str, size: int) -> dict:
    common.only_streams(("deals",))
    with common.temp_dir("bench-trb-") as instance:
        app = common.make_app(instance, url)
        connection_id, actor = common.connect_pipedrive(app)
        rss_before = common.rss_now_mib()
        seconds, run = common.sync(app, actor, connection_id, full=True)
        stored = common.document_count(app, connection_id, "pipedrive_deals")
        db_bytes = sum(f.stat().st_size for f in instance.glob("tributary.db*"))
    return {"tool": "tributary", "seconds": seconds, "records": stored, "rss_before_mib": rss_before,
            "sync_cpu_seconds": run["cpu_seconds"], "records_written": run["records_written"], "db_mib": db_bytes / 2**20}


def dlt_source(url: str):
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source({
        "client": {
            "base_url": f"{url}/pipedrive/api/v2/",
            "headers": {"x-api-token": common.PIPEDRIVE_KEY},
            "paginator": {"type": "cursor", "cursor_path": "additional_data.next_cursor",
                          "cursor_param": "cursor"},
        },
        "resources": [{
            "name": "deals",
            "endpoint": {"path": "deals", "params": {**DEAL_PARAMS, "limit": common.PAGE_SIZE},
                         "data_selector": "data"},
        }],
    })


def child_dlt(url: str, size: int, loader_format: str = "jsonl") -> dict:
    with common.temp_dir("bench-dlt-") as workdir:
        os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
        os.environ["DLT_DATA_DIR"] = str(workdir / "data")
        os.environ["DLT_PROJECT_DIR"] = str(workdir)
        import dlt
        import duckdb

        common.quiet_logs()
        database = workdir / "deals.duckdb"
        pipeline = dlt.pipeline(pipeline_name="bench_deals", pipelines_dir=str(workdir / "pipelines"),
                                destination=dlt.destinations.duckdb(str(database)), dataset_name="pipedrive")
        source = dlt_source(url)
        rss_before = common.rss_now_mib()
        started, cpu = time.perf_counter(), time.process_time()
        pipeline.run(source, loader_file_format=loader_format)
        seconds, sync_cpu = time.perf_counter() - started, time.process_time() - cpu
        with duckdb.connect(str(database), read_only=True) as conn:
            stored = conn.execute("select count(*) from pipedrive.deals").fetchone()[0]
        db_bytes = database.stat().st_size
    return {"tool": "dlt", "seconds": seconds, "records": stored, "rss_before_mib": rss_before,
            "sync_cpu_seconds": sync_cpu,
            "db_mib": db_bytes / 2**20, "loader_file_format": loader_format}


def child_http_only(url: str, size: int) -> dict:
    import requests

    http = requests.Session()
    http.headers["x-api-token"] = common.PIPEDRIVE_KEY
    rss_before = common.rss_now_mib()
    started, cpu = time.perf_counter(), time.process_time()
    records, cursor = 0, None
    while True:
        body = http.get(f"{url}/pipedrive/api/v2/deals", timeout=60,
                        params={**DEAL_PARAMS, "limit": common.PAGE_SIZE,
                                **({"cursor": cursor} if cursor else {})}).json()
        records += len(body.get("data") or [])
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            break
    return {"tool": "http-only", "seconds": time.perf_counter() - started, "records": records,
            "rss_before_mib": rss_before, "sync_cpu_seconds": time.process_time() - cpu}


CHILDREN = {"tributary": child_tributary, "dlt": child_dlt, "http-only": child_http_only}


def prime(url: str, size: int) -> float:
    """Read every deal page once (untimed), so that the sandbox has rendered every record
    before the first measurement; returns how long it took."""
    started = time.perf_counter()
    result = child_http_only(url, size)
    if result["records"] != size:
        raise RuntimeError(f"priming read {result['records']} deals, expected {size}")
    return time.perf_counter() - started


# -- the parent ---------------------------------------------------------------------------------

def measure(tool: str, url: str, size: int, dlt_format: str) -> dict:
    result = common.run_child(MODULE, ["--child", tool, "--url", url, "--sizes", str(size),
                                       "--dlt-format", dlt_format])
    if result["records"] != size:
        raise RuntimeError(f"{tool} stored {result['records']} records, expected {size}")
    result["rate"] = result["records"] / result["seconds"]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_throughput", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="deal counts, comma-separated (default 10000,100000)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per tool and size (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="sandbox seed (default 42)")
    parser.add_argument("--no-peer", action="store_true", help="skip dlt")
    parser.add_argument("--dlt-format", default="jsonl", choices=("jsonl", "insert_values", "parquet"),
                        help="dlt's loader file format for duckdb (default jsonl, its fastest here; dlt's "
                             "own default for duckdb is insert_values, far slower; parquet needs pyarrow)")
    parser.add_argument("--no-reference", action="store_true", help="skip the http-only reference")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2000 deals, 1 repeat")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if args.child == "dlt":
            common.emit(child_dlt(args.url, int(args.sizes), args.dlt_format))
        else:
            common.emit(CHILDREN[args.child](args.url, int(args.sizes)))
        return 0

    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    repeats = 1 if args.quick else max(1, args.repeats)
    tools = ["tributary"] + ([] if args.no_peer else ["dlt"]) + ([] if args.no_reference else ["http-only"])
    print(f"# Full-sync throughput: Pipedrive deals, sandbox over HTTP, page size {common.PAGE_SIZE}")
    print(f"# {common.machine()}; {repeats} repeat(s); each measurement in its own process")
    if not args.no_peer:
        print(f"# peer: dlt rest_api -> duckdb, loader_file_format={args.dlt_format}")
    results: dict[tuple[int, str], list[dict]] = {}
    for size in sizes:
        with common.Sandbox(size, args.seed) as sandbox:
            warm = sandbox.warm()
            primed = prime(sandbox.url, size)
            print(f"\n## {size:,} deals (sandbox {sandbox.url}, index built in {warm:.1f}s, every page "
                  f"read once in {primed:.1f}s)", flush=True)
            for repeat in range(repeats):
                order = tools if repeat % 2 == 0 else tools[::-1]
                for tool in order:
                    result = measure(tool, sandbox.url, size, args.dlt_format)
                    results.setdefault((size, tool), []).append(result)
                    print(f"  {tool:<10} run {repeat + 1}: {result['seconds']:7.2f} s  "
                          f"{result['rate']:8.0f} records/s  peak RSS {result['peak_rss_mib']:6.1f} MiB  "
                          f"CPU {result['sync_cpu_seconds']:6.1f} s  ({common.load()})", flush=True)

    rows = []
    for size in sizes:
        base = results.get((size, "dlt"))
        for tool in tools:
            runs = results[(size, tool)]
            rate = common.median([r["rate"] for r in runs])
            ratio = ""
            if base and tool != "dlt":
                ratio = f"{rate / common.median([r['rate'] for r in base]):.2f}x"
            rows.append([f"{size:,}", tool, f"{common.median([r['seconds'] for r in runs]):.2f}",
                         f"{rate:,.0f} {common.spread([r['rate'] for r in runs], '{:,.0f}')}".strip(), ratio,
                         f"{common.median([r['peak_rss_mib'] for r in runs]):.0f}",
                         f"{common.median([r['rss_before_mib'] for r in runs]):.0f}",
                         f"{common.median([r['sync_cpu_seconds'] for r in runs]):.1f}"])
    print("\n## Medians")
    print(common.table(["records", "tool", "seconds", "records/s [min..max]", "vs dlt", "peak RSS MiB",
                        "RSS before sync MiB", "CPU s"], rows))
    print(f"({common.load()} at the end. CPU s: the measured part's process time, every thread of the "
          "measuring process; the sandbox's is not in it)")
    if len(sizes) > 1 and not args.quick:
        small, large = min(sizes), max(sizes)
        for tool in tools:
            a = common.median([r["peak_rss_mib"] for r in results[(small, tool)]])
            b = common.median([r["peak_rss_mib"] for r in results[(large, tool)]])
            print(f"peak RSS {tool}: {a:.0f} MiB at {small:,} -> {b:.0f} MiB at {large:,} "
                  f"({b - a:+.0f} MiB for {large // small}x the records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
