"""One call to hold a body to a provider's published description, for connector authors:

    from tests.fidelity.conform import validate

    assert validate("slack", "conversations.history", body) == []
    assert validate("notion", "GET /v1/blocks/{block_id}/children", body) == []
    assert validate("graph", "driveItem[]", delta_page) == []
    assert validate("jira", "GET /rest/api/3/search/jql", body) == []
    assert validate("google", "drive.changes.list", body) == []

``name`` is what descriptions.schema() reads for the provider (an endpoint, a method, a type).
The answer lists what is wrong, one line each, empty when the body conforms: a violation of the
description (types, required fields, enums, nullability, formats), or a field the description
does not name (an "undocumented field"; a misspelt name shows up here). A field the real
provider sends although its description omits it goes in ``extras`` (fnmatch patterns of JSON
pointers, ``*`` for list indexes); a value the description rejects but the real provider sends
is an :class:`~tests.fidelity.validation.Allow`. Give each its reason beside it.
"""
from __future__ import annotations

import fnmatch

from . import descriptions
from .validation import Allow, problems, undocumented

# Fields a provider adds to every body by protocol rather than by description: Microsoft
# Graph's OData annotations (@odata.type, @odata.etag, @microsoft.graph.downloadUrl, a delta's
# @removed) are instance annotations of OData JSON, not properties of the entity types.
PROTOCOL_EXTRAS = {"graph": ("*@odata.*", "*@microsoft.graph.*", "*/@removed")}


def validate(provider: str, name: str, body, *, status: int = 200, allow: tuple[Allow, ...] = (),
             extras: tuple[str, ...] = ()) -> list[str]:
    """Why ``body`` (parsed JSON; None for an empty answer) does not conform to the published
    description ``name`` of ``provider``; ``status`` matters only for GitHub's operations."""
    schema = descriptions.schema(provider, name, status=status)
    if schema is None:
        return [] if body in (None, b"", "") else ["the description has no body for this answer"]
    patterns = extras + PROTOCOL_EXTRAS.get(provider, ())
    return problems(schema, body, allow=allow) + [
        f"undocumented field {path}" for path in undocumented(schema, body)
        if not any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)]
