"""What every surface refuses before a view runs.

* **Ids of the wrong shape never reach a view.** ``<id(prefix="conn"):connection_id>`` matches
  ``conn_...`` only, so ``/connections/catalog`` and ``/connections/resolve`` are never also
  read as a connection id: a method they lack gets ``405`` with their own ``Allow`` (not the
  connection's ``PATCH``/``DELETE``), and ``OPTIONS`` advertises only what they take.
* **NUL is refused in paths, query strings and form fields** (JSON bodies: ``core.strict_json``).
  PostgreSQL cannot hold it in text, so a lookup with one would fail with a 500 there and
  answer "not found" on SQLite; here it is a 4xx on both.
"""
from flask import request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from core.errors import ValidationError

from .errors import JSON_PREFIXES


class IdConverter(BaseConverter):
    """A public id with its type prefix (``core.ids``): ``prefix`` + ``_`` + letters and digits."""

    def __init__(self, url_map, prefix: str):
        super().__init__(url_map)
        self.regex = prefix + r"_[A-Za-z0-9]+"


def refuse_nul() -> None:
    if "\x00" in request.path:
        raise NotFound()
    if b"%00" in request.query_string:
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise ValidationError(f"The query parameter {name.replace(chr(0), '')!r} contains a NUL character.",
                                      code="invalid_parameter", details={"parameter": name.replace("\x00", "")})
    # Console forms only: the API and webhooks read their raw bodies themselves (a webhook's
    # signature is over the raw bytes, which parsing a form here would consume).
    if (request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
            and not request.path.startswith(JSON_PREFIXES)):
        for name, value in request.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise ValidationError("A form field contains a NUL character.", code="invalid_field",
                                      details={"field": name.replace("\x00", "")})


def init_app(app) -> None:
    """Register the converter (before any blueprint adds its rules) and the guard."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_nul)
