"""Request bodies of the JSON API: one size limit and one parser for every endpoint."""
from flask import current_app, request

from core import strict_json
from core.errors import ValidationError


def limit_body_size() -> None:
    """Before any API view: bodies above ``API_MAX_BODY_BYTES`` are refused with ``413`` when
    read, before they are buffered or parsed. (Pipeline sync and webhooks set their own limit.)"""
    request.max_content_length = int(current_app.config["API_MAX_BODY_BYTES"])


def json_body() -> dict:
    """The body as a JSON object (``{}`` when there is none), parsed whatever the Content-Type
    says (a JSON body sent as text/plain is still JSON) and strictly (``core.strict_json``)."""
    data = request.get_data(cache=True)
    if not data:
        return {}
    body = strict_json.loads(data)
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.", code="invalid_body")
    return body


def query_flag(name: str) -> bool:
    """A true/false query parameter (``?full=true``); absent is false."""
    value = request.args.get(name, "false").lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ValidationError(f"{name} is true or false.", code="invalid_parameter", details={"parameter": name})
