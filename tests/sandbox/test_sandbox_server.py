"""The sandbox served for real: the `python -m sandbox` entry point and concurrent clients."""
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from werkzeug.serving import make_server

from sandbox import create_app
from sandbox_testkit import PIPEDRIVE_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_python_dash_m_sandbox_serves_and_prints_its_url():
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", "0", "--scale", "5",
         "--seed", "3"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Tributary provider sandbox on http://127.0.0.1:")
        url = line.split()[4]
        index = requests.get(f"{url}/_sandbox", timeout=5).json()
        assert index["scale"] == 5 and index["seed"] == 3
        assert index["providers"]["pipedrive"]["api_base"] == f"{url}/pipedrive/api/v1"
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()


def test_threaded_server_keeps_counts_consistent_under_concurrent_clients():
    app = create_app({"SCALE": 10})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        requests.post(f"{base}/_sandbox/config",
                      json={"rate_limit": {"pipedrive": {"per_minute": 30}}}, timeout=5)

        def call(_):
            return requests.get(f"{base}/pipedrive/api/v1/deals",
                                params={"api_token": PIPEDRIVE_KEY}, timeout=5).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(40)))
        assert statuses.count(200) == 30 and statuses.count(429) == 10
        stats = requests.get(f"{base}/_sandbox/stats", timeout=5).json()
        assert stats["requests"]["pipedrive"]["total"] == 40
        assert stats["rate_limited"]["pipedrive"] == 10
    finally:
        server.shutdown()
        server.server_close()
