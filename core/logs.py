"""Keep secrets out of log lines.

Request logs print URLs, and some URLs carry secrets in their query string (the OAuth
callback's ``code``, a provider's ``api_token``). The filter masks those values in every
record of the loggers it is attached to.
"""
import logging
import re

SECRET_PARAMS = re.compile(r"(?i)([?&](?:code|state|api_token|access_token|refresh_token|token|key|client_secret)=)[^&\s\"']+")


def redact(text: str) -> str:
    return SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install(logger_names=("werkzeug", "gunicorn.access", "gunicorn.error")) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
