"""Secrets in URLs never reach a log line."""
import logging

from core.logs import RedactSecrets, redact


def test_redacts_oauth_code_state_and_tokens():
    line = 'GET /oauth/github/callback?code=abc123&state=xyz HTTP/1.1" 302 -'
    assert redact(line) == 'GET /oauth/github/callback?code=[redacted]&state=[redacted] HTTP/1.1" 302 -'
    assert "k-1" not in redact("/v1/users/me?api_token=k-1")
    assert redact("/connections?connected=github") == "/connections?connected=github"


def test_filter_rewrites_records(caplog):
    logger = logging.getLogger("werkzeug.test")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="werkzeug.test"):
        logger.info('"%s" %s', "GET /oauth/github/callback?code=s3cret&state=t0k", 302)
    assert "s3cret" not in caplog.text and "t0k" not in caplog.text and "[redacted]" in caplog.text
