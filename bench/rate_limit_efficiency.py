"""Rate-limit efficiency: a full sync against a sandbox that enforces N requests per minute,
its time divided by the minimum the limit allows, and the 429s it received.

    python -m bench.rate_limit_efficiency                  # N=10/min, 2000 records per stream
    python -m bench.rate_limit_efficiency --quick          # smoke run: 5/min, 400 records, 1 run (~1 min)
    python -m bench.rate_limit_efficiency --per-minute 20 --scale 5000 --repeats 5

Set-up per measurement (a child process of its own, fresh SQLite database): a Pipedrive
connection (all three streams: leads, deals, activities) whose settings declare
``requests_per_minute = N``; then the sandbox is reset (so the connect check does not count in
its window) and told ``POST /_sandbox/config {"rate_limit": {"pipedrive": {"per_minute": N}}}``:
a sliding one-minute window per key, refused with 429 + Retry-After once spent. The full sync
runs through the real worker path (``sync.worker.drain``); the sandbox's ``/_sandbox/stats``
counts the requests it answered and the 429s.

The floor: with at most N requests in any 60 s, R requests cannot span less than
``((R - 1) // N) * 60`` seconds (N at once, the next N one window later, ...), where R is the
number of requests the sync needed (answered ones, 429s excluded). Efficiency = sync time /
floor; it includes everything else the sync does (mapping, storing, the last window's pages).

Real time, not the sandbox clock: our limiter paces on the monotonic clock of this process, so
moving the sandbox's clock would only make the sandbox forget its window, not make our wait
shorter. The run is kept short instead: small N and few pages, so the floor is a minute or two.

``--undeclared`` (on by default, off in --quick) adds one run where the connection does not
declare the limit (the catalog's 1200/min applies): the sandbox's 429s and Retry-After are
what paces it then.
"""
from __future__ import annotations

import argparse
import os
import sys

if __package__ in (None, ""):           # python bench/rate_limit_efficiency.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as common  # noqa: E402

MODULE = "bench.rate_limit_efficiency"
WINDOW = 60.0


def floor_seconds(requests: int, per_minute: int) -> float:
    return ((requests - 1) // per_minute) * WINDOW if requests > 0 else 0.0


def child(url: str, per_minute: int, declared: bool) -> dict:
    import requests

    settings = {"requests_per_minute": per_minute} if declared else None
    # No limit while connecting (a previous run's window may still be full), then a clean window.
    requests.post(f"{url}/_sandbox/reset", timeout=30).raise_for_status()
    with common.temp_dir("bench-rl-") as instance:
        app = common.make_app(instance, url)
        connection_id, actor = common.connect_pipedrive(app, settings=settings)
        requests.post(f"{url}/_sandbox/reset", timeout=30).raise_for_status()
        requests.post(f"{url}/_sandbox/config", timeout=30,
                      json={"rate_limit": {"pipedrive": {"per_minute": per_minute}}}).raise_for_status()
        seconds, run = common.sync(app, actor, connection_id, full=True)
        stats = requests.get(f"{url}/_sandbox/stats", timeout=30).json()
        stored = common.document_count(app, connection_id)
    total = stats["requests"]["pipedrive"]["total"]
    refused = stats["rate_limited"].get("pipedrive", 0)
    return {"declared": declared, "seconds": seconds, "requests": total - refused, "rate_limited": refused,
            "records": stored, "records_written": run["records_written"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rate_limit_efficiency",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-minute", type=int, default=10, help="the enforced limit N (default 10)")
    parser.add_argument("--scale", type=int, default=2000,
                        help="sandbox SCALE: records per Pipedrive stream (default 2000: 15 pages + 5 look-ups)")
    parser.add_argument("--repeats", type=int, default=3, help="runs with the limit declared (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="sandbox seed (default 42)")
    parser.add_argument("--undeclared", action=argparse.BooleanOptionalAction, default=True,
                        help="also one run without declaring the limit (default on)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 5/min, 400 records per stream, 1 declared run, no undeclared one")
    parser.add_argument("--child", choices=("declared", "undeclared"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        common.emit(child(args.url, args.per_minute, args.child == "declared"))
        return 0

    repeats = 1 if args.quick else max(1, args.repeats)
    if args.quick:      # 8 requests at 5/min: a one-minute floor
        args.per_minute, args.scale = 5, 400
    plan = ["declared"] * repeats + (["undeclared"] if args.undeclared and not args.quick else [])
    print(f"# Rate-limit efficiency: sandbox enforcing {args.per_minute} requests/minute, full sync of "
          f"3 Pipedrive streams x {args.scale:,} records")
    print(f"# {common.machine()}; real time (not the sandbox clock)")
    results = []
    with common.Sandbox(args.scale, args.seed) as sandbox:
        for index, kind in enumerate(plan):
            result = common.run_child(MODULE, ["--child", kind, "--url", sandbox.url,
                                               "--per-minute", str(args.per_minute)])
            result["floor"] = floor_seconds(result["requests"], args.per_minute)
            result["efficiency"] = result["seconds"] / result["floor"] if result["floor"] else float("nan")
            results.append(result)
            print(f"  {kind:<10} run {index + 1}: {result['seconds']:6.1f} s for {result['requests']} requests "
                  f"(floor {result['floor']:.0f} s) = {result['efficiency']:.3f}x floor, "
                  f"{result['rate_limited']} x 429, {result['records']:,} documents", flush=True)

    rows = []
    for kind in ("declared", "undeclared"):
        runs = [r for r in results if r["declared"] == (kind == "declared")]
        if not runs:
            continue
        rows.append([kind, str(len(runs)), f"{common.median([r['requests'] for r in runs]):.0f}",
                     f"{common.median([r['seconds'] for r in runs]):.1f}", f"{common.median([r['floor'] for r in runs]):.0f}",
                     f"{common.median([r['efficiency'] for r in runs]):.3f}x "
                     f"{common.spread([r['efficiency'] for r in runs], '{:.3f}')}".strip(),
                     str(max(r["rate_limited"] for r in runs))])
    print("\n## Medians")
    print(common.table(["limit", "runs", "requests", "seconds", "floor s", "time / floor [min..max]",
                        "429s (max)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
