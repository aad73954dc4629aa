"""Every syncing connector against the provider sandbox at scale: a full sync, then an
incremental with nothing changed at the source.

    python -m bench.connectors                          # every connector, sandbox scale 2000
    python -m bench.connectors --types github,slack     # some of them
    python -m bench.connectors --quick                  # smoke run: scale 50

For each connector type, in a child process of its own (fresh SQLite database, the real worker
path through ``sync.worker.drain``), against one sandbox process started for the whole run and
reset between connectors:

* it connects the way a user does through the public API (an API key or a handle, or the OAuth
  redirect with the sandbox's consent page answered over HTTP, as a browser would);
* a full sync: wall seconds, records read and documents written per second, the requests the
  sandbox served to it, the child's peak RSS;
* an incremental right after, with nothing changed: seconds, requests, and the documents it
  wrote (should be 0).

``--scale`` is the sandbox's records per stream per parent (what ``python -m sandbox --scale``
takes), so record counts differ by provider: the figures to compare are per second and per
request. Providers whose own rate limits would stretch a full sync at that scale to many minutes
are measured lower (``RATE_BOUND_SCALE``; ``--scale-for figma=100`` overrides), their row's scale
column says so, and their records per second is their provider's pace, not ours. GitHub and Pipedrive, the connectors measured longest (``bench.sync_throughput``),
are the reference rows of the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):           # python bench/connectors.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _common as common  # noqa: E402

MODULE = "bench.connectors"
# How a user connects each non-OAuth connector to the sandbox (its demo credentials are not
# secrets); OAuth connectors go through the consent page.
CONNECT_BODIES = {
    "pipedrive": {"api_key": common.PIPEDRIVE_KEY},
    "twitter": {"account_handle": "acme"},
    "discord": {"api_key": "sandbox-discord-bot-token"},
    # Freshdesk names its helpdesk: connected through /v1/connectors, which takes settings.
    "freshdesk": {"credentials": {"api_key": "sandbox-freshdesk-key"}, "settings": {"domain": "acme"}},
    # Figma lists no teams: the connection names the sandbox's at connect, then consents.
    "figma": {"settings": {"channels": ["1200000000000000001"]}},
    # Zendesk is per account: the sandbox's default subdomain, then its consent page.
    "zendesk": {"settings": {"subdomain": "acme-sandbox"}},
}

# Providers whose published rate limits, not our code, set how long a full sync of a large account
# takes (the paced client waits for them in real time): each is measured at a scale its pace
# finishes in a minute or two (the scale column says which), so the run stays within ~25 minutes.
# Per minute: Figma 25 (file reads 10), Notion 180, Atlassian 100, Slack's tiers ~20-100,
# Freshdesk and Zendesk 200 (a request per ticket for its conversations or comments), Linear 80,
# Microsoft Graph's Teams 240; GitHub 5,000 an hour. At 2,000 each would take 10 minutes to hours.
RATE_BOUND_SCALE = {"figma": 50, "notion": 50, "confluence": 200, "slack": 200, "freshdesk": 200, "zendesk": 200,
                    "microsoft_365": 200, "github": 200, "jira": 500, "linear": 500}


def syncing_types() -> list[str]:
    """Connector types that sync and can be pointed at the sandbox (the demo switch)."""
    from connectors.registry import connector_classes

    return sorted(t for t, cls in connector_classes().items()
                  if cls.syncs() and not cls.push_only and cls.sandbox_settings("http://sandbox"))


def sandbox_requests(url: str) -> int:
    import requests

    stats = requests.get(f"{url}/_sandbox/stats", timeout=60).json()["requests"]
    return sum((provider or {}).get("total", 0) for provider in stats.values())


def connect(app, connector_type: str) -> tuple[str, object]:
    """A workspace, its admin's API key, and a connection made through the public API."""
    from accounts import service as accounts
    from core.actor import Actor
    from core.extensions import db

    with app.app_context():
        workspace, user = accounts.setup(workspace_name="Bench", email="bench@example.com", name="Bench",
                                         password="correct horse battery staple")
        actor = Actor(type="user", id=user.id, label=user.email, workspace_id=workspace.id,
                      user_id=user.id, role="admin")
        _key, secret = accounts.create_api_key(actor, name="bench", scopes=["admin"])
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"connector_type": connector_type, **CONNECT_BODIES.get(connector_type, {})}
    from connectors.registry import connector_classes

    if connector_classes()[connector_type].catalog.ownership == "personal":     # a member's own mailbox: theirs
        body["owner_user_id"] = actor.user_id
    if "account_handle" in body:            # a handle is resolved first, as the console does
        resolved = client.post("/api/v1/connections/resolve", json=body, headers=headers).get_json()
        body["external_account_id"] = resolved["external_account_id"]
    settled = "credentials" in body or "settings" in body      # settings are taken by /v1/connectors only
    answer = client.post("/v1/connectors" if settled else "/api/v1/connections", json=body, headers=headers)
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"connecting {connector_type}: {answer.status_code} {answer.get_data(as_text=True)}")
    started = answer.get_json()
    if "connector_id" in started:
        started = {"connection": {"id": started["connector_id"]}, "authorize_url": started.get("oauth_url"),
                   "mode": "oauth_redirect" if started.get("oauth_url") else "connected"}
    if started.get("mode") == "oauth_redirect":
        from sandbox.consent import consent

        callback = consent(started["authorize_url"])
        finished = client.get(_local(callback))
        if finished.status_code >= 400:
            raise RuntimeError(f"OAuth callback for {connector_type}: {finished.status_code}")
    return started["connection"]["id"], actor


def _local(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def child(url: str, connector_type: str) -> dict:
    common.quiet_logs()
    with common.temp_dir("bench-connectors-") as instance:
        app = common.make_app(instance, url)
        connection_id, actor = connect(app, connector_type)
        before = sandbox_requests(url)
        seconds, counters = common.sync(app, actor, connection_id, full=True)
        full_requests = sandbox_requests(url) - before
        documents = common.document_count(app, connection_id)
        before = sandbox_requests(url)
        inc_seconds, inc = common.sync(app, actor, connection_id, full=False)
        inc_requests = sandbox_requests(url) - before
    written = inc["documents_created"] + inc["documents_updated"] + inc["documents_deleted"]
    return {"type": connector_type, "full_seconds": seconds, "records_read": counters["progress_processed"],
            "documents": documents, "full_requests": full_requests, "full_cpu": counters["cpu_seconds"],
            "incremental_seconds": inc_seconds, "incremental_requests": inc_requests,
            "incremental_written": written}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", help="connector types, comma-separated (default: every syncing one)")
    parser.add_argument("--scale", type=int, default=2000, help="sandbox records per stream per parent (2000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale-for", metavar="TYPE=N,...", help="another scale for some types (default: "
                        "RATE_BOUND_SCALE's, for providers whose own rate limits bound a full sync)")
    parser.add_argument("--quick", action="store_true", help="smoke run: scale 50")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        common.emit(child(args.url, args.child))
        return 0
    types = args.types.split(",") if args.types else syncing_types()
    scales = {t: 50 if args.quick else min(args.scale, RATE_BOUND_SCALE.get(t, args.scale)) for t in types}
    for item in filter(None, (args.scale_for or "").split(",")):
        name, _, value = item.partition("=")
        scales[name.strip()] = int(value)
    if not args.no_wait:
        common.wait_for_quiet()
    print(f"# connectors against the sandbox at scale {args.scale if not args.quick else 50} (rate-bound ones "
          f"lower, see the scale column) -- {common.machine()}")
    rows, failed = [], []
    for scale in sorted(set(scales.values()), reverse=True):    # one sandbox a scale, reset between connectors
        with common.Sandbox(scale, args.seed) as sandbox:
            for connector_type in [t for t in types if scales[t] == scale]:
                sandbox.control("POST", "/_sandbox/reset")
                started = time.perf_counter()
                try:
                    result = common.run_child(MODULE, ["--child", connector_type, "--url", sandbox.url])
                except RuntimeError as exc:         # one connector failing does not end the others' figures
                    failed.append(connector_type)
                    print(f"{connector_type}: {exc}", file=sys.stderr)
                    continue
                result["wall"], result["scale"] = time.perf_counter() - started, scale
                rows.append(result)
                print(json.dumps(result), file=sys.stderr)
    # CPU s: this process's own time for the full sync (the sandbox answering it runs on the other
    # core, so wall-clock records/s is the pair's, and the provider's pace where it is rate-bound).
    header = (f"{'connector':<18} {'scale':>6} {'records':>8} {'docs':>8} {'full s':>8} {'CPU s':>7} {'rec/s':>8} "
              f"{'requests':>9} {'rec/req':>8} {'peak MiB':>9} | {'incr s':>7} {'incr req':>8} {'written':>7}")
    print(header)
    print("-" * len(header))
    for r in sorted(rows, key=lambda r: types.index(r["type"])):
        rate = r["records_read"] / r["full_seconds"] if r["full_seconds"] else float("nan")
        per_request = r["records_read"] / r["full_requests"] if r["full_requests"] else float("nan")
        print(f"{r['type']:<18} {r['scale']:>6} {r['records_read']:>8} {r['documents']:>8} {r['full_seconds']:>8.2f} "
              f"{r['full_cpu']:>7.2f} {rate:>8.0f} {r['full_requests']:>9} {per_request:>8.1f} {r['peak_rss_mib']:>9.0f} | "
              f"{r['incremental_seconds']:>7.2f} {r['incremental_requests']:>8} {r['incremental_written']:>7}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
