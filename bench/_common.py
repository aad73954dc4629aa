"""What the sync benchmarks share: the provider sandbox as a separate process, measurements in
child processes (peak RSS from ``os.wait4``), a Tributary instance on a fresh SQLite database,
and printing.

Every measurement runs in a child process of its own (``python -m bench.<script> --child ...``)
so its peak resident memory (``ru_maxrss`` of that child, from ``wait4``) belongs to that one
measurement and the figures of Tributary and its peer are comparable. The child prints one line
``BENCH-RESULT {json}``; everything else it prints goes to the parent's stderr untouched.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:           # `python bench/<name>.py` puts bench/ first, not the repo
    sys.path.insert(0, str(REPO))

PIPEDRIVE_KEY = "sandbox-pipedrive-key"   # the sandbox's demo key (not a secret)
RESULT_PREFIX = "BENCH-RESULT "
PAGE_SIZE = 500                           # Pipedrive's maximum ``limit``; our connector's page


# -- the sandbox -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sandbox:
    """``python -m sandbox --port P --scale N --seed S`` in a process of its own."""

    def __init__(self, scale: int, seed: int = 42):
        import requests

        self.scale, self.seed = scale, seed
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(self.port),
             "--scale", str(scale), "--seed", str(seed)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if "sandbox on" not in line:
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        # Drain its stdout so it never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.http.request(method, f"{self.url}{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def warm(self) -> float:
        """Build the sandbox's deal index (its first read of a stream) before anything is timed;
        returns how long that took."""
        started = time.perf_counter()
        response = self.http.get(f"{self.url}/pipedrive/api/v2/deals", params={"limit": 1},
                                 headers={"x-api-token": PIPEDRIVE_KEY}, timeout=300)
        response.raise_for_status()
        return time.perf_counter() - started

    def pipedrive_requests(self) -> int:
        stats = self.control("GET", "/_sandbox/stats")
        return (stats["requests"].get("pipedrive") or {}).get("total", 0)


# -- child processes ---------------------------------------------------------------------------

def run_child(module: str, args: list[str], *, env: dict | None = None) -> dict:
    """Run ``python -m module --child ...``; return its result with ``peak_rss_mib`` (the
    child's own ``ru_maxrss``, from ``wait4``)."""
    process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not lines:
        sys.stderr.write(output)
        raise RuntimeError(f"{module} {' '.join(args)} exited {process.returncode} without a result")
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024     # Linux: KiB
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole child, set-up included
    return result


def emit(result: dict) -> None:
    """The child's answer to the parent."""
    import resource

    result["self_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def rss_now_mib() -> float:
    """Peak RSS of this process so far (what it held before the measured part)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def temp_dir(prefix: str):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- Tributary in a child ----------------------------------------------------------------------

def quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)


def only_streams(names: tuple[str, ...]) -> None:
    """Sync only these Pipedrive streams. The engine walks ``catalog.streams``; narrowing the
    catalog entry is how the benchmark compares the same records with a peer that reads only
    ``/api/v2/deals``. Nothing else of the read changes."""
    from dataclasses import replace

    from connectors.pipedrive import PipedriveConnector

    catalog = PipedriveConnector.catalog
    PipedriveConnector.catalog = replace(
        catalog, streams=tuple(s for s in catalog.streams if s.name in names))


def make_app(instance: Path, sandbox_url: str):
    """A Tributary app on a fresh SQLite database (WAL, migrations applied) under ``instance``,
    wired to the sandbox; no embedded workers, no scheduler: the benchmark drains runs itself."""
    os.environ["TRIBUTARY_INSTANCE_PATH"] = str(instance)
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{instance / 'tributary.db'}", "AUTO_MIGRATE": True,
                      "SECRET_KEY": "bench", "SANDBOX_URL": sandbox_url, "SYNC_ON_CONNECT": False,
                      "EMBEDDED_WORKERS": 0, "SCHEDULER_ENABLED": False})
    quiet_logs()
    return app


def bench_workspace(scopes, key_name: str = "bench"):
    """In an app context: the "Bench" workspace with its admin, and an API key of ``scopes``;
    (workspace, the admin's actor, the key in clear). The benches that measure the API start here."""
    from accounts import service as accounts

    workspace, user = accounts.setup(workspace_name="Bench", email="bench@example.com", name="Bench",
                                     password="correct horse battery staple")
    actor = accounts.user_actor(user, workspace.id, "admin")
    _key, clear = accounts.create_api_key(actor, name=key_name, scopes=list(scopes))
    return workspace, actor, clear


def connect_pipedrive(app, settings: dict | None = None) -> tuple[str, object]:
    """A workspace, its admin and a Pipedrive connection (the key is checked against the
    sandbox, as the API does); returns (connection id, the admin's actor)."""
    from accounts import service as accounts
    from connections import service as connections
    from connections.models import Connection
    from core.actor import Actor
    from core.extensions import db

    with app.app_context():
        workspace, user = accounts.setup(workspace_name="Bench", email="bench@example.com", name="Bench",
                                         password="correct horse battery staple")
        actor = Actor(type="user", id=user.id, label=user.email, workspace_id=workspace.id,
                      user_id=user.id, role="admin")
        connection_id = connections.connect(actor, {"connector_type": "pipedrive",
                                                    "api_key": PIPEDRIVE_KEY})["connection"]["id"]
        if settings:
            connection = db.session.get(Connection, connection_id)
            connection.settings = {**(connection.settings or {}), **settings}
            db.session.commit()
        db.session.remove()
    return connection_id, actor


def sync(app, actor, connection_id: str, *, full: bool) -> tuple[float, dict]:
    """Queue a run and execute it through the real worker path (``drain``); returns the wall
    time of the drain and the run's counters (plus ``cpu_seconds``: this process's CPU time
    during the drain, every thread)."""
    from connections import service as connections
    from core.extensions import db
    from sync import worker
    from sync.models import SyncRun

    with app.app_context():
        run_id = connections.request_sync(actor, connection_id, full=full)["sync_run_id"]
        db.session.remove()
    started, cpu = time.perf_counter(), time.process_time()
    done = worker.drain(app)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu     # every thread of this process
    if done != [run_id]:
        raise RuntimeError(f"drain ran {done}, expected [{run_id}]")
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        counters = {name: getattr(run, name) for name in (
            "status", "error_reason", "error_message", "records_written", "progress_processed",
            "documents_created", "documents_updated", "documents_unchanged", "documents_deleted")}
        counters["cpu_seconds"] = cpu
        db.session.remove()
    if counters["status"] != "completed":
        raise RuntimeError(f"the run ended {counters['status']}: {counters['error_message']}")
    return seconds, counters


def document_count(app, connection_id: str, namespace: str | None = None) -> int:
    from sqlalchemy import func, select

    from core.extensions import db
    from knowledge.models import Document

    with app.app_context():
        query = select(func.count()).select_from(Document).where(Document.connection_id == connection_id)
        if namespace:
            query = query.where(Document.namespace == namespace)
        try:
            return db.session.scalar(query)
        finally:
            db.session.remove()


# -- figures -----------------------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values, fmt="{:.0f}") -> str:
    if len(values) < 2:
        return ""
    return f"[{fmt.format(min(values))}..{fmt.format(max(values))}]"


def machine() -> str:
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, {load()}")


def load() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return f"load average {os.getloadavg()[0]:.1f}"


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -- waiting for a quiet machine ----------------------------------------------------------------

# A benchmark process: a Python interpreter running ``-m bench.<name>`` or ``bench/<name>.py``.
_BENCHMARK_ARGV = re.compile(r"(^|\s)(-m\s+bench\.\w+|\S*bench/\w+\.py)(\s|$)")


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])  # the field after "(comm) state"
    except (OSError, ValueError, IndexError):
        return None


def _lineage(pid: int) -> set[int]:
    """``pid`` and its ancestors."""
    seen = set()
    while pid and pid not in seen:
        seen.add(pid)
        pid = _parent(pid)
    return seen


def others_running() -> list[str]:
    """Command lines of the project's other benchmarks running on this machine (this process,
    its ancestors -- a shell that started it names it too -- and its own children excepted).
    With two cores, one benchmark's figures are worth little while another one runs."""
    me = os.getpid()
    mine = _lineage(me)
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if not argv or not os.path.basename(argv[0]).startswith("python"):
            continue  # a shell whose command line merely mentions a benchmark
        line = " ".join(argv)
        if _BENCHMARK_ARGV.search(line) and me not in _lineage(int(entry)):
            found.append(f"{entry} {line}")
    return found


def wait_for_quiet(max_wait: float = 1800, poll: float = 15) -> None:
    """Wait (up to ``max_wait`` seconds) while another of the project's benchmarks runs."""
    waited = 0.0
    while (others := others_running()) and waited < max_wait:
        if waited == 0:
            print(f"another benchmark is running; waiting (up to {max_wait:.0f} s): {others[0][:120]}",
                  file=sys.stderr, flush=True)
        time.sleep(poll)
        waited += poll
    if others_running():
        print("WARNING: another benchmark is still running; figures are under its load", file=sys.stderr, flush=True)
    elif waited:
        print(f"waited {waited:.0f} s for other benchmarks", file=sys.stderr, flush=True)
