"""The one HTTP client every provider request goes through.

It sets timeouts and a user agent, and turns provider answers into our errors: 401 becomes
``ProviderAuthError`` (or ``InvalidCredentials`` while checking a key the user just typed),
429 ``ProviderRateLimited`` with the provider's Retry-After, 5xx / network failures /
unreadable bodies ``ProviderError``. The sync engine layers rate limiting and backoff on top.
"""
from __future__ import annotations

import logging

import requests

from .errors import InvalidCredentials, ProviderAuthError, ProviderError, ProviderRateLimited

log = logging.getLogger(__name__)

USER_AGENT = "Tributary/0.1 (+self-hosted connector console)"


class ProviderClient:
    def __init__(self, provider: str, base_url: str, *, timeout: float = 15.0,
                 headers: dict | None = None, params: dict | None = None,
                 session: requests.Session | None = None):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)
        self.default_params = params or {}

    def get_json(self, path: str, *, params: dict | None = None, checking_credentials: bool = False):
        response = self.request("GET", path, params=params, checking_credentials=checking_credentials)
        return response.json_body

    def request(self, method: str, path: str, *, params: dict | None = None, json=None,
                checking_credentials: bool = False):
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, params={**self.default_params, **(params or {})},
                                            json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            # Log the class only: the URL may carry an api_token query parameter.
            log.warning("%s request failed: %s", self.provider, type(exc).__name__)
            raise ProviderError(f"{self.provider} could not be reached ({type(exc).__name__}).",
                                details={"provider": self.provider}) from None
        status = response.status_code
        if status == 401:
            message = f"{self.provider} refused the credentials ({status})."
            if checking_credentials:
                raise InvalidCredentials(f"{self.provider} did not accept this key: it is wrong, "
                                         "expired or revoked.", details={"provider_status": status})
            raise ProviderAuthError(message, details={"provider_status": status})
        # GitHub signals rate limits with 403 too, with x-ratelimit-remaining: 0 or Retry-After.
        if status == 429 or (status == 403 and (response.headers.get("retry-after")
                                                or response.headers.get("x-ratelimit-remaining") == "0")):
            raise ProviderRateLimited(f"{self.provider} rate limit reached.",
                                      retry_after=_retry_after(response))
        if status >= 500:
            raise ProviderError(f"{self.provider} answered {status}.",
                                details={"provider": self.provider, "provider_status": status})
        if status >= 400:
            raise ProviderError(f"{self.provider} refused the request ({status}).",
                                details={"provider": self.provider, "provider_status": status})
        try:
            response.json_body = response.json() if response.content else None
        except ValueError:
            raise ProviderError(f"{self.provider} answered with a body that is not valid JSON.",
                                details={"provider": self.provider}) from None
        return response


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            return None
    return None
