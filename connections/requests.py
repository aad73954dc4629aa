"""The request bodies of connecting and changing a connection, as models (``core.requests``).

One model per body, shared by the JSON API (``@endpoint`` declares it, validates the body with
it and generates the document from it), the console's forms and the connectors API, which hand
their fields to the same ``connections.service`` functions: those validate with these models
before anything else, so a shape, type, length, range or enum is refused the same way (same
code, same message) whoever asks. What needs the catalog's connect method or the database (is
the connector connectable, is the owner a member, does the provider know the handle) stays in
the service, after the model.

A connect body is one of four, by the connect method of its ``connector_type``: the service
reads ``connector_type`` first (``ConnectTarget``), looks the connector up, then validates the
body as that method's model (``CONNECT_MODELS``), whose ``settings`` are checked against what
that connector honours (``parse_settings``), whichever API or form sent them. Unknown fields of a
connect are ignored; unknown settings are refused by name.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema, WrapValidator,
                      model_validator)

from connectors import ratelimit, registry
from core.errors import ValidationError
from core.requests import RequestModel, Text, blank_is_absent, component_ref, refuse, worded
from core.text import check_name

from .webhooks import MAX_GRACE_SECONDS

SCOPES = ("business", "personal")
EDITABLE = ("name", "owner_user_id", "access_mode")
ACCESS_MODES = ("workspace", "source")
MAX_NAME = 200
MAX_SECRET = 2000
MAX_CHANNELS = 500
MAX_CHANNEL_LENGTH = 200  # documents.channel

Scope = Literal[SCOPES]


def connector_types(method: str | None = None):
    """``json_schema_extra``: the enum of connector types (of one connect method), read from the
    registry when the document is built."""
    def extra(schema: dict) -> None:
        schema["enum"] = sorted(t for t, cls in registry.connector_classes().items()
                                if method is None or cls.catalog.auth_method == method)
    return extra


def _secret(value, handler, info):
    """A key or token the user typed: present, a string, and short enough to be one (a longer
    one is ``invalid_credentials``, as the provider would say)."""
    name = info.field_name
    if value is None or (isinstance(value, str) and not value.strip()):
        raise refuse("missing_field", f"{name} is required.")
    if not isinstance(value, str):
        raise refuse("invalid_field", f"{name} must be a string.")
    if len(value) > MAX_SECRET:
        raise refuse("invalid_credentials", "That does not look like an API key or token.")
    return handler(value.strip())


def _optional_secret(value, handler, info):
    return None if value is None else _secret(value, handler, info)


class _Ignoring(RequestModel):
    model_config = ConfigDict(strict=True, extra="ignore")


# -- a connection's settings ----------------------------------------------------------------------

def parse_settings(cls, settings) -> dict:
    """A connection's settings as sent at connect, checked against its connector ``cls``: only
    the names it honours (``Connector.setting_names``: the rate limits, ``channels`` where it
    syncs per channel, its own extras); a name it does not know is refused by name
    (``unknown_setting``), a value of the wrong shape with ``invalid_setting``; ``None`` values
    are left out (the default). Then the connect settings it needs (``CatalogEntry.
    connect_settings``: Freshdesk's domain, Zendesk's subdomain) must be there (``missing_field``),
    and are put in the form the connector reads (``normalize_settings``: a Figma team URL -> its
    id). Each refusal is a ``ValidationError`` naming ``details.field`` (``settings.<name>``) and
    ``details.setting``."""
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise ValidationError("settings must be an object.", code="invalid_field", details={"field": "settings"})
    known = cls.setting_names()
    unknown = sorted(name for name in settings if name not in known)
    if unknown:
        raise ValidationError(f"{cls.catalog.display_name} has no setting {unknown[0]!r}; its settings are "
                              f"{', '.join(known)}.", code="unknown_setting",
                              details={"field": f"settings.{unknown[0]}", "setting": unknown[0], "unknown": unknown,
                                       "known": list(known)})
    parsed = {}
    for name, value in settings.items():
        if value is None:
            continue
        if name == "channels":
            parsed[name] = _channels(value)
        elif name in ratelimit.SETTING_NAMES:
            try:
                parsed[name] = ratelimit.parse_limit(value, name) or 0
            except ValidationError as exc:
                raise _invalid_setting(name, exc.message) from None
        elif isinstance(value, (bool, int, str)) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            parsed[name] = value
        else:
            raise _invalid_setting(name, f"{name} is a boolean, a number, a string or a list of strings.")
    entry = cls.catalog
    for asked in entry.connect_settings:       # where the account is (Freshdesk's domain): check needs it
        if not parsed.get(asked.name):
            raise ValidationError(f"{entry.display_name} needs settings.{asked.name}: {asked.label}.",
                                  code="missing_field", details={"field": f"settings.{asked.name}"})
    return cls.normalize_settings(parsed)


def _invalid_setting(name: str, message: str, **details) -> ValidationError:
    return ValidationError(message, code="invalid_setting",
                           details={"field": f"settings.{name}", "setting": name, **details})


def _channels(value) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_CHANNELS or not all(
            isinstance(v, str) and v.strip() and len(v.strip()) <= MAX_CHANNEL_LENGTH for v in value):
        raise _invalid_setting("channels", f"channels is a list of 1 to {MAX_CHANNELS} channel names or ids (each "
                                           f"at most {MAX_CHANNEL_LENGTH} characters).")
    try:
        return list(dict.fromkeys(check_name(v.strip(), "channels") for v in value))
    except ValidationError as exc:
        raise _invalid_setting("channels", exc.message, character=exc.details["character"]) from None


def _settings(value, handler, info: ValidationInfo):
    """The ``settings`` of a connect, checked by ``parse_settings`` against the connector the body
    names (absent: ``{}``, so a required connect setting is ``missing_field`` all the same). A
    body whose ``connector_type`` is refused, or names no connector, is refused for that."""
    connector = registry.connector_classes().get(info.data.get("connector_type"))
    if connector is None:
        return handler(value if isinstance(value, dict) else {})
    try:
        return handler(parse_settings(connector, value))
    except ValidationError as exc:
        raise refuse(exc.code, exc.message, **exc.details) from None


SETTINGS_SAID = (
    "The connection's settings, checked before anything is stored: `requests_per_minute` and `requests_per_hour` "
    "(every connector), `channels` (connectors that sync per channel), and what a connector asks for at connect "
    "(`subdomain`: Zendesk; `domain`: Freshdesk; `channels`, the team ids or URLs: Figma). Another name is "
    "`422 unknown_setting`; a value of the wrong shape `422 invalid_setting`; a missing connect setting "
    "`422 missing_field` (`details.field`: `settings.<name>`).")
Settings = Annotated[dict[str, Any], WrapValidator(_settings), Field(validate_default=True), WithJsonSchema(
    {"anyOf": [component_ref("ConnectorSettings"), {"type": "null"}], "description": SETTINGS_SAID})]


ConnectorType = Text(64, required=True)
Name = Text(MAX_NAME)
ScopeField = Annotated[Scope | None, BeforeValidator(blank_is_absent), worded("scope is business or personal."),
                       Field(description="Defaults from the catalog (`default_scope`).")]
ReturnTo = Annotated[str | None, Field(
    description="A first-party console URL (a path, or an absolute URL on this console's host) the OAuth "
                "callback sends the browser back to with `?connected=<type>&connection_id=<id>` (plus "
                "`&already_connected=1` when the account was already connected and that connection was updated "
                "in place) or `?connection_error=<code>` (for `already_connected`, plus `&connection_id=` of the "
                "connection holding the account; for `invalid_setting`, plus `&connector=<type>&setting=<name>"
                "&value=<refused value>`, e.g. a Figma team the account cannot read, and on a reconnect "
                "`&connection_id=`). Other URLs are ignored.")]
Secret = Annotated[str, Field(max_length=MAX_SECRET), WrapValidator(_secret)]
OptionalSecret = Annotated[str | None, Field(max_length=MAX_SECRET), WrapValidator(_optional_secret)]
Owner = Annotated[str | None, Field(
    description="Personal connectors (Gmail, Outlook): the member the connection belongs to. Defaults to the "
                "calling user (an API key has none, so the connection has no owner unless one is named).")]


class ConnectTarget(_Ignoring):
    """What a connect names first: the connector (its connect method decides the rest)."""

    connector_type: ConnectorType


class OAuthConnectRequest(_Ignoring):
    """Connect an OAuth redirect connector."""

    connector_type: Annotated[ConnectorType, Field(json_schema_extra=connector_types("oauth_redirect"))]
    name: Annotated[Name, Field(description="Display name; defaults to the connector's name.")] = None
    scope: ScopeField = None
    return_to: ReturnTo = None
    owner_user_id: Owner = None
    settings: Settings = None


class ApiKeyConnectRequest(_Ignoring):
    """Connect an API-key connector."""

    connector_type: Annotated[ConnectorType, Field(json_schema_extra=connector_types("api_key"))]
    api_key: Annotated[Secret, Field(description="The provider's API key or token. Verified with the provider before "
                                                 "anything is stored; stored encrypted.")]
    name: Annotated[Name, Field(description="Display name; defaults to the connector's name and the provider "
                                            "account.")] = None
    scope: ScopeField = None
    settings: Settings = None


class HandleConnectRequest(_Ignoring):
    """Track a public account by handle (resolve it first)."""

    missing_codes = {"external_account_id": (
        "missing_field", "external_account_id is required: resolve the handle first "
                         "(POST /api/v1/connections/resolve).")}

    connector_type: Annotated[ConnectorType, Field(json_schema_extra=connector_types("handle"))]
    account_handle: Annotated[Text(64, required=True), Field(description="The public handle, with or without `@`.")]
    external_account_id: Annotated[str | int, Field(
        description="The account id `POST /api/v1/connections/resolve` returned for the handle; the handle alone is "
                    "not enough."), worded("external_account_id is the account id (a string or a number) that "
                                            "POST /api/v1/connections/resolve returned.")]
    display_name: Annotated[Name, Field(description="Used when the provider reports no display name.")] = None
    followers: Annotated[int | None, Field(description="Accepted for convenience and ignored: the count is read "
                                                       "from the provider.")] = None
    name: Annotated[Name, Field(description="Display name; defaults to `@<handle>`.")] = None
    scope: ScopeField = None
    settings: Settings = None

    @model_validator(mode="before")
    @classmethod
    def _empty_id_is_missing(cls, data):
        if isinstance(data, dict) and data.get("external_account_id") == "":
            return {name: value for name, value in data.items() if name != "external_account_id"}
        return data


class WebhookConnectRequest(_Ignoring):
    """Create a custom webhook source."""

    connector_type: Annotated[ConnectorType, Field(json_schema_extra=connector_types("webhook"))]
    name: Annotated[Name, Field(description="Display name; defaults to the connector's name.")] = None
    scope: ScopeField = None
    settings: Settings = None


# The body of a connect, by the connector's connect method.
CONNECT_MODELS = {"oauth_redirect": OAuthConnectRequest, "api_key": ApiKeyConnectRequest,
                  "handle": HandleConnectRequest, "webhook": WebhookConnectRequest}


class ResolveRequest(_Ignoring):
    connector_type: Annotated[ConnectorType, Field(json_schema_extra=connector_types("handle"))]
    account_handle: Annotated[Text(64, required=True), Field(description="The public handle, with or without `@`.")]


class ReconnectRequest(_Ignoring):
    api_key: Annotated[OptionalSecret, Field(description="API-key connectors: the replacement key (required for "
                                                         "them).")] = None
    return_to: Annotated[str | None, Field(description="OAuth connectors: a first-party console URL to return to, "
                                                       "as with connect.")] = None


GraceSeconds = Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS)]


class RotateSecretRequest(_Ignoring):
    grace_period_seconds: Annotated[GraceSeconds, Field(
        description="How long the replaced secret stays accepted, in seconds: 0 refuses it at once; at most 7 days. "
                    "Default: the deployment's `WEBHOOK_SECRET_GRACE_SECONDS` (24 h)."),
        worded(f"grace_period_seconds is a whole number of seconds from 0 to {MAX_GRACE_SECONDS} (7 days).")] = None


def _access_mode(value, handler):
    if value not in ACCESS_MODES:
        raise refuse("invalid_access_mode", "access_mode is workspace (every member reads everything it syncs) or "
                                            "source (each record's readers at the source).",
                     allowed=list(ACCESS_MODES))
    return handler(value)


class UpdateRequest(RequestModel):
    """Only `name`, `owner_user_id` and `access_mode` are editable; any other field is refused
    (`field_not_editable`)."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"minProperties": 1})
    unknown_code = "field_not_editable"

    name: Annotated[Text(MAX_NAME, required=True), Field(description="The new display name.")] = None
    owner_user_id: Annotated[str | None, Field(
        description="Personal connections only: the member it belongs to (its documents are theirs to read); `null` "
                    "clears it (hidden from everyone).")] = None
    access_mode: Annotated[Literal[ACCESS_MODES], WrapValidator(_access_mode), Field(
        description="Admins, not on personal connections: `workspace` (every member reads everything it syncs) or "
                    "`source` (each record's readers at the source). A change queues a full sync, which works every "
                    "document's readers out again.")] = None

    @model_validator(mode="before")
    @classmethod
    def _editable(cls, data):
        if isinstance(data, dict) and not data:
            raise refuse("invalid_body", "Send name and/or owner_user_id.")
        unknown = sorted(set(data) - set(EDITABLE)) if isinstance(data, dict) else []
        if unknown:
            raise refuse("field_not_editable", f"Not editable: {', '.join(unknown)}. Sync cadence is a "
                                               "per-connector-type setting, not a connection field.",
                         fields=unknown, editable=list(EDITABLE))
        return data
