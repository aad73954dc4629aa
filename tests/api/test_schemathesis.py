"""Schemathesis fuzzes the whole API from its OpenAPI document, over real HTTP (issue #12: the
schema fuzzer found RecursionErrors, unhashable presets and 405s without Allow).

Every generated request, valid and invalid, must get an answer the document promises: no 5xx,
a documented status, content type, headers and body schema, and for methods an operation lacks
a 405 with a true ``Allow``. Set ``SCHEMATHESIS_SEED`` to replay a run, ``SCHEMATHESIS_EXAMPLES``
for a longer one (the issue's run sent 5,127 requests)."""
import os
import subprocess
import sys

import pytest

from core.extensions import db
from tests.conftest import LiveServer
from tests.factories import make_api_key

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance,unsupported_method,allow_header_conformance")


@pytest.mark.slow
def test_the_api_answers_every_generated_request_as_documented(app, workspace, tmp_path):
    app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] = 1_000_000  # the fuzzer is not a pipeline
    with app.app_context():
        ws, user = (db.session.merge(x) for x in workspace)
        user.is_platform_admin = True  # so /api/admin is fuzzed past its 403
        db.session.commit()
        key = make_api_key(ws, user)
    server = LiveServer(app)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/v1/openapi.json",
             "--header", f"Authorization: Bearer {key}", "--checks", CHECKS,
             "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-color",
             "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "15"),
             "--seed", os.environ.get("SCHEMATHESIS_SEED", "12")],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    summary = result.stdout[result.stdout.find("=== SUMMARY"):] if "=== SUMMARY" in result.stdout else result.stdout
    failures = result.stdout[result.stdout.find("=== FAILURES"):][:6000] if "=== FAILURES" in result.stdout else ""
    assert result.returncode == 0, f"{failures}\n{summary}\n{result.stderr[-3000:]}"
    assert "generated" in summary
