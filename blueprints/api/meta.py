"""The OpenAPI document and who-am-I."""
import json
from functools import cache
from typing import Annotated, Literal

from flask import current_app, jsonify
from pydantic import ConfigDict, Field

from accounts.models import SCOPES

from . import bp
from .auth import current_actor
from .endpoints import Ok, ResponseModel, endpoint, public

TAG = "Meta"


class Me(ResponseModel):
    """The calling API key."""

    workspace_id: Annotated[str, Field(pattern="^org_[a-z0-9]+$")]
    api_key_id: Annotated[str, Field(pattern="^key_[a-z0-9]+$")]
    name: Annotated[str, Field(description="The key's name.")]
    scopes: list[Literal[tuple(SCOPES)]]


class OpenApiDocument(ResponseModel):
    """This document."""

    model_config = ConfigDict(extra="allow")

    openapi: Annotated[str, Field(pattern="^3\\.1\\.")]
    info: dict
    paths: dict


@cache
def _openapi_json() -> str:
    """The document, built and serialized once per process (it only changes with the code)."""
    from .openapi import build_openapi

    return json.dumps(build_openapi(), ensure_ascii=False)


@endpoint(bp, "GET", "/openapi.json", scope=None, security=[], operation_id="getOpenApiDocument", tag=TAG,
          summary="This OpenAPI document",
          behaviour="The OpenAPI 3.1 document of the JSON API and the webhook endpoint. No authentication.",
          responses={200: Ok("The document.", OpenApiDocument)}, auth=public)
def openapi():
    """The OpenAPI 3.1 document of the whole JSON API."""
    return current_app.response_class(_openapi_json(), mimetype="application/json")


@endpoint(bp, "GET", "/me", scope="connections:read", operation_id="whoAmI", tag=TAG, summary="Who am I",
          behaviour="The workspace, id, name and scopes of the calling API key.",
          responses={200: Ok("The calling key.", Me, example={
              "workspace_id": "org_a8bd3kq9x0v7m2p1", "api_key_id": "key_x0v7m2p1a8bd3kq9", "name": "CI",
              "scopes": ["connections:read", "sync"]})})
def me():
    """The workspace and scopes of the calling API key."""
    actor = current_actor()
    return jsonify({"workspace_id": actor.workspace_id, "api_key_id": actor.id, "name": actor.label,
                    "scopes": sorted(actor.scopes)})
