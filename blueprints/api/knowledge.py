"""/api/v1/vector-stores and /api/v1/documents: the knowledge store's stores and documents.

Reads need the ``query`` scope; changes (creating and deleting stores, deleting documents)
need ``pipeline``, the scope of the integrations that fill stores (``admin`` has both).
"""
from flask import jsonify, request

from knowledge import documents, stores

from . import bp
from .auth import current_actor, require_scope
from .body import json_body


@bp.post("/vector-stores")
@require_scope("pipeline")
def create_vector_store():
    body = json_body()
    store = stores.create_store(current_actor(), body.get("name"), body.get("description"))
    return jsonify(stores.serialize(store, 0)), 201


@bp.get("/vector-stores")
@require_scope("query")
def list_vector_stores():
    """The workspace's stores, the default first."""
    return jsonify({"vector_stores": stores.list_stores(current_actor())})


@bp.get("/vector-stores/<vector_store_id>")
@require_scope("query")
def get_vector_store(vector_store_id):
    actor = current_actor()
    return jsonify(stores.describe(actor, stores.get_store(actor, vector_store_id)))


@bp.delete("/vector-stores/<vector_store_id>")
@require_scope("pipeline")
def delete_vector_store(vector_store_id):
    return jsonify(stores.delete_store(current_actor(), vector_store_id))


@bp.get("/documents")
@require_scope("query")
def list_documents():
    args = request.args
    return jsonify(documents.list_documents(
        current_actor(), vector_store_id=args.get("vector_store_id") or None,
        namespace=args.get("namespace") or None, source=args.get("source") or None,
        limit=args.get("limit"), cursor=args.get("cursor") or None))


@bp.get("/documents/<document_id>")
@require_scope("query")
def get_document(document_id):
    return jsonify(documents.get_document(current_actor(), document_id))


@bp.delete("/documents/<document_id>")
@require_scope("pipeline")
def delete_document(document_id):
    return jsonify(documents.delete_document(current_actor(), document_id))


@bp.post("/query")
@require_scope("query")
def query():
    """The federated query (knowledge.search): semantic + lexical, fused, filters inside."""
    from knowledge import search

    params = search.parse(json_body())
    return jsonify(search.run_query(current_actor(), params, via="api"))
