"""OAuth callbacks: /oauth/<connector_type>/callback."""
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, redirect, render_template, request, session

from connections import oauth

bp = Blueprint("oauth", __name__, url_prefix="/oauth")

# What the callback appends to ``return_to`` (any earlier values are replaced).
RESULT_PARAMS = ("connected", "connection_error", "connection_id", "already_connected", "connector", "setting", "value")


def _with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in RESULT_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


@bp.get("/<connector_type>/callback")
def callback(connector_type):
    """Finish an authorization and send the browser back where it started."""
    outcome = oauth.finish(connector_type, request.args, session_user_id=session.get("user_id"),
                           client_address=request.remote_addr)
    if outcome.return_to:
        if outcome.ok:
            result = {"connected": connector_type, "connection_id": outcome.connection.id}
            if outcome.already_connected:
                result["already_connected"] = "1"
        else:
            result = {"connection_error": outcome.error_code}
            if outcome.existing_id:
                result["connection_id"] = outcome.existing_id
            if outcome.refused:     # which setting the provider refused (a Figma team), for the console to name
                result.update(connector=connector_type, setting=outcome.refused[0], value=outcome.refused[1])
        return redirect(_with_query(outcome.return_to, **result))
    status = 200 if outcome.ok else 400
    return render_template("oauth_result.html", outcome=outcome), status
