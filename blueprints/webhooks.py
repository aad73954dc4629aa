"""Inbound provider webhooks: POST /webhooks/<connection_id>, declared once (the API's
``endpoints.endpoint``, authenticated by its signature instead of an API key)."""
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from pydantic import Field

from connections import webhooks
from connections.webhooks import SIGNATURE_HEADER, WebhookPayload

from .api.endpoints import Ok, ResponseModel, endpoint, public
from .api.shapes import CONNECTION_ID_EXAMPLE

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


class WebhookAccepted(ResponseModel):
    received: Literal[True]
    delivery_id: Annotated[str, Field(pattern="^whd_[a-z0-9]+$")]


@endpoint(bp, "POST", "/<connection_id>", scope=None, auth=public, security=[{"webhookSignature": []}],
          operation_id="receiveWebhook", tag="Webhooks",
          summary="Deliver a signed payload to a custom webhook source",
          behaviour=f"""
The inbound endpoint of a custom webhook connection (`connector_type: webhook`); its URL is the `webhook_url`
connect returned. Authentication is the signature, not an API key:

```
{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body, keyed with the signing secret>
```

Several `v1=` values may be sent (one matching is enough). After a rotation (`rotate-secret`) the replaced secret
is accepted too until its grace period ends. Deliveries whose `t` is more than 5 minutes from now, or that were
already received (same `t` and body), are refused. The body is a JSON object or array of at most 1 MiB; an
accepted delivery is stored and answered `202`, and queues a sync run of the connection at once (unless one is
waiting): it is searchable about two seconds later. A record may name who may read it: `"readers":
["member:<user id>", "email:<address>", "api_key:<key id>"]` (the pipeline's grammar); without it the record is
workspace-wide.

Checks run in this order: the connection (`404`; any id that is not a webhook connection), `410` when it is
disconnected, the size (`413`), the signature (`401`), the payload (`422`), replays (`409`).
""",
          path_parameters=[{"name": "connection_id", "in": "path", "required": True,
                            "description": "The webhook connection's id (the last segment of its `webhook_url`).",
                            "schema": {"type": "string", "examples": [CONNECTION_ID_EXAMPLE]}}],
          body=WebhookPayload, json_parser=False,
          body_examples={"invoice_paid": {"value": {"id": "evt_1", "type": "invoice.paid", "amount": 1200}}},
          responses={202: Ok("Accepted and stored.", WebhookAccepted,
                             example={"received": True, "delivery_id": "whd_p1a8bd3kq9x0v7m2"})},
          errors={
              401: ["missing_signature", "timestamp_out_of_window", "invalid_signature"],
              404: [("not_found", "There is no webhook connection with this id.")],
              409: ["replayed_delivery"],
              410: [("connection_disconnected", "The webhook connection is disconnected; reconnect it (which issues a "
                                                "new signing secret).")],
              413: ["payload_too_large"],
              422: ["invalid_payload", "invalid_readers"],
          })
def receive(connection_id):
    """Accept a signed delivery for a webhook connection."""
    request.max_content_length = webhooks.MAX_BODY  # refuse oversized bodies before reading them
    delivery = webhooks.receive(connection_id, request.headers.get(webhooks.SIGNATURE_HEADER),
                                request.get_data(cache=False))
    return jsonify({"received": True, "delivery_id": delivery.id}), 202
