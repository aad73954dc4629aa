"""The suite's live server (tests/conftest.py) closes every response, also one werkzeug's
development server lets go of without closing it (a browser that drops the connection)."""
import gc
import warnings

from flask import Flask, send_file
from werkzeug.test import EnvironBuilder

from tests.conftest import closing_wsgi


def _dropped_mid_way(wsgi_app) -> list:
    """Serve a file, take its first chunk and drop the response without ``close()``, as
    werkzeug's server does when the client goes away; the ResourceWarnings that follow."""
    environ = EnvironBuilder(path="/style.css").get_environ()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        body = wsgi_app(environ, lambda status, headers, exc_info=None: None)
        next(iter(body))
        del body
        gc.collect()
    return [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_response_dropped_without_close_still_closes_its_file(tmp_path):
    path = tmp_path / "style.css"
    path.write_text("body { margin: 0 }\n" * 1000)
    app = Flask(__name__)
    app.add_url_rule("/style.css", "style", lambda: send_file(path))
    assert _dropped_mid_way(app.wsgi_app), "the plain app leaves the file open (the case the wrapper is for)"
    assert _dropped_mid_way(closing_wsgi(app.wsgi_app)) == []
