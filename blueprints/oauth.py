"""OAuth callbacks: /oauth/<connector_type>/callback."""
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, redirect, render_template, request, session

from connections import oauth

bp = Blueprint("oauth", __name__, url_prefix="/oauth")


def _with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query)
             if k not in ("connected", "connection_id", "connection_error")]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


@bp.get("/<connector_type>/callback")
def callback(connector_type):
    """Finish an authorization and send the browser back where it started."""
    outcome = oauth.finish(connector_type, request.args, session_user_id=session.get("user_id"),
                           client_address=request.remote_addr)
    if outcome.return_to:
        if outcome.ok:
            # Which connection it was, so the console can open it (its first sync runs there).
            return redirect(_with_query(outcome.return_to, connected=connector_type,
                                        connection_id=outcome.connection.id))
        return redirect(_with_query(outcome.return_to, connection_error=outcome.error_code))
    status = 200 if outcome.ok else 400
    return render_template("oauth_result.html", outcome=outcome), status
