"""Shapes and example values shared by the declared endpoints and the hand-kept part of the
OpenAPI document (``openapi.py``): one definition of a timestamp, an id parameter, an example id."""
from typing import Annotated

from pydantic import Field

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


def timestamp(description: str, *, nullable: bool = False):
    """An RFC 3339 UTC timestamp field (``null`` allowed when ``nullable``)."""
    kind = str | None if nullable else str
    return Annotated[kind, Field(description=description + " (RFC 3339, UTC, `Z`).",
                                 json_schema_extra={"format": "date-time"})]
