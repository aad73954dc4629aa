"""Shapes and example values shared by the declared endpoints and the OpenAPI document
(``openapi.py``): one definition of a timestamp, an id parameter, an example id."""
from typing import Annotated, Any

from pydantic import Field

from .endpoints import ResponseModel, component

CONNECTION_ID_EXAMPLE = "conn_3kq9x0v7m2p1a8bd"
RUN_ID_EXAMPLE = "run_q2w8e4r6t1y3u5i7"
VECTOR_STORE_ID_EXAMPLE = "vs_u6qtwlc35tlax2mv"
DEFAULT_STORE_ID_EXAMPLE = "vs_ksvgvhnbj26k3zfi"
DOCUMENT_ID_EXAMPLE = "doc_zzsxl42fsthx66hr"

CONNECTION_ID_PARAMETER = {
    "name": "connection_id", "in": "path", "required": True,
    "description": "A connection id. An id from another workspace is answered exactly like one that does not "
                   "exist (`404 not_found`).",
    "schema": {"type": "string", "examples": [CONNECTION_ID_EXAMPLE]},
}


def timestamp(description: str):
    """An RFC 3339 UTC timestamp: ``Annotated[str, timestamp("When ...")]`` (``str | None`` when
    it may be ``null``)."""
    return Field(description=description + " (RFC 3339, UTC, `Z`).", json_schema_extra={"format": "date-time"})


@component
class ProviderSaid(ResponseModel):
    """What the provider said when it refused or failed a request, redacted of anything that
    looks like a secret. Every field is optional."""

    provider: Annotated[str, Field(description="The provider's name.")] = None
    provider_status: Annotated[int, Field(description="The HTTP status the provider answered.")] = None
    provider_message: Annotated[str, Field(description="The provider's own error message.")] = None
    provider_errors: Annotated[list[Any], Field(
        max_length=10, description="The provider's error list (GitHub's `errors[]`, Google's `error.errors`, X's "
                                   "`errors`), at most ten entries.")] = None
    documentation_url: Annotated[str, Field(description="The provider's documentation link for this error.")] = None
    request_id: Annotated[str, Field(description="The provider's request id, for its support.")] = None
    channel_id: Annotated[str, Field(description="The channel the error is about.")] = None


def limit_reached(limit: str) -> tuple[str, str]:
    """The ``409 limit_exceeded`` row of an operation that makes what the operator's ``limit``
    counts (connect, pipeline sync, query)."""
    return ("limit_exceeded", f"The workspace is at its `{limit}` limit (the operator's; `GET /api/v1/subscription`); "
                              "`details.limit` names it. Nothing is written.")
