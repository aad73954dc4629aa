"""The operator's limits: reported by GET /api/v1/subscription, enforced where things are made,
refused whole with 409 limit_exceeded naming the limit."""
from sqlalchemy import func, select

from connections.models import Connection
from core.extensions import db
from knowledge.models import Document, PipelineSync, QueryLog
from tests.factories import make_connection
from tests.usage.test_usage import default_store, pipeline, upsert

PIPEDRIVE_KEY = "sandbox-pipedrive-key"


def count(app, model, **where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def refused(response, limit):
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error["code"] == "limit_exceeded" and error["details"]["limit"] == limit
    return error


def test_unlimited_by_default(api, workspace):
    body = api.get("/api/v1/subscription").json
    assert body["plan"] == "self_hosted" and body["workspace_id"] == workspace[0].id
    assert [(l["name"], l["limit"], l["status"]) for l in body["limits"]] == [
        ("connections", None, "ok"), ("documents", None, "ok"), ("queries_per_day", None, "ok"),
        ("pipeline_operations_per_day", None, "ok")]


def test_connections_limit(app, app_config, api, workspace):
    app.config["LIMIT_CONNECTIONS"] = 2
    with app.app_context():
        make_connection(workspace[0].id, name="One")
        make_connection(workspace[0].id, name="Gone", status="disconnected")  # does not count
    assert api.post("/api/v1/connections", json={"connector_type": "pipedrive",
                                                 "api_key": PIPEDRIVE_KEY}).status_code == 201
    error = refused(api.post("/api/v1/connections", json={"connector_type": "pipedrive", "api_key": PIPEDRIVE_KEY}),
                    "connections")
    assert error["details"]["limit_value"] == 2 and error["details"]["used"] == 2
    assert "LIMIT_CONNECTIONS" in error["message"]
    assert count(app, Connection, workspace_id=workspace[0].id) == 3
    (connections,) = [l for l in api.get("/api/v1/subscription").json["limits"] if l["name"] == "connections"]
    assert connections == {"name": "connections", "limit": 2, "used": 2, "period": None, "percent": 100.0,
                           "status": "reached"}


def test_documents_limit_counts_only_new_documents_and_writes_nothing_when_refused(app, api, workspace):
    ws = workspace[0].id
    store = default_store(api)
    app.config["LIMIT_DOCUMENTS"] = 5
    assert pipeline(api, ws, store, [upsert(str(i)) for i in range(4)]).status_code == 200
    # Updating the four and adding one fits; adding two more does not, and nothing of it is written.
    assert pipeline(api, ws, store, [upsert(str(i), "new") for i in range(5)]).status_code == 200
    error = refused(pipeline(api, ws, store, [upsert("0", "changed"), upsert("9"), upsert("10")]), "documents")
    assert error["details"]["requested"] == 2 and error["details"]["used"] == 5
    with app.app_context():
        assert db.session.scalar(select(Document.content).where(Document.external_id == "0")) == "new"
    assert count(app, PipelineSync, workspace_id=ws) == 2


def test_pipeline_operations_per_day(app, api, workspace):
    ws = workspace[0].id
    store = default_store(api)
    app.config["LIMIT_PIPELINE_OPERATIONS_PER_DAY"] = 10
    assert pipeline(api, ws, store, [upsert(str(i)) for i in range(7)]).status_code == 200
    (ops,) = [l for l in api.get("/api/v1/subscription").json["limits"] if l["name"] == "pipeline_operations_per_day"]
    assert ops["used"] == 7 and ops["status"] == "ok" and ops["period"] == "day"
    assert pipeline(api, ws, store, [upsert("7")]).status_code == 200
    (ops,) = [l for l in api.get("/api/v1/subscription").json["limits"] if l["name"] == "pipeline_operations_per_day"]
    assert ops["status"] == "near_limit" and ops["percent"] == 80.0
    error = refused(pipeline(api, ws, store, [upsert("8"), upsert("9"), upsert("10")]), "pipeline_operations_per_day")
    assert "resets_at" in error["details"]
    assert count(app, PipelineSync, workspace_id=ws) == 2


def test_queries_per_day(app, api, workspace):
    app.config["LIMIT_QUERIES_PER_DAY"] = 2
    for _ in range(2):
        assert api.post("/api/v1/query", json={"query": "anything"}).status_code == 200
    refused(api.post("/api/v1/query", json={"query": "anything"}), "queries_per_day")
    assert count(app, QueryLog, workspace_id=workspace[0].id) == 2
