"""Inbound provider webhooks: POST /webhooks/<connection_id>."""
from flask import Blueprint, jsonify, request

from connections import webhooks

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/<connection_id>")
def receive(connection_id):
    """Accept a signed delivery for a webhook connection."""
    request.max_content_length = webhooks.MAX_BODY  # refuse oversized bodies before reading them
    delivery = webhooks.receive(connection_id, request.headers.get(webhooks.SIGNATURE_HEADER),
                                request.get_data(cache=False))
    return jsonify({"received": True, "delivery_id": delivery.id}), 202
