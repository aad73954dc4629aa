"""What `make run` prints (issue #12): a default start is quiet -- no faiss loader probing at
INFO, no APScheduler line per job run -- and LOG_VERBOSE brings them back. A real `flask run`
process, served a request so its workers and scheduler start, with the scheduler's reconcile job
every second so a periodic line would show within the wait."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_and_collect(tmp_path, **settings) -> str:
    """Start `flask run`, request the console once, wait through several reconcile runs, stop;
    return everything the process printed."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRIBUTARY_")}
    env.pop("DATABASE_URL", None)
    env.update(TRIBUTARY_INSTANCE_PATH=str(tmp_path / "instance"), TRIBUTARY_SCHEDULER_RECONCILE_SECONDS="1",
               **{f"TRIBUTARY_{name}": value for name, value in settings.items()})
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        time.sleep(5)  # workers, index upkeep and the scheduler (reconciling every second) run
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    return output


@pytest.mark.slow
def test_a_default_start_is_quiet_and_verbose_on_request(tmp_path):
    quiet = serve_and_collect(tmp_path / "quiet")
    assert "Could not load library" not in quiet and "faiss.loader" not in quiet, quiet
    assert "apscheduler" not in quiet, quiet
    assert "this process leads the scheduler" in quiet  # our own one-time lines stay
    lines = [line.split(": ", 1)[-1] for line in quiet.splitlines() if " INFO " in line and "werkzeug" not in line]
    assert len(lines) == len(set(lines)), f"a line repeats in a default start:\n{quiet}"

    verbose = serve_and_collect(tmp_path / "verbose", LOG_VERBOSE="true")
    assert "faiss.loader" in verbose
    assert verbose.count('Running job "reconcile_jobs') >= 3, verbose
