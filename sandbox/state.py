"""The sandbox's whole mutable state, in one object guarded by one lock."""
from __future__ import annotations

import copy
import threading
import time
from collections import Counter, defaultdict

from .faults import FaultBook, RateLimiter
from .oauth import TokenStore
from .seed import SeedData

# Demo values, not secrets: they only open this localhost sandbox.
DEFAULT_CLIENTS = {
    "github": {"client_id": "sandbox-github-client", "client_secret": "sandbox-github-secret",
               "name": "Tributary"},
    "google": {"client_id": "sandbox-google-client", "client_secret": "sandbox-google-secret",
               "name": "Tributary"},
}
DEFAULT_PIPEDRIVE_KEY = "sandbox-pipedrive-key"
DEFAULT_X_BEARER = "sandbox-x-bearer"

# Real GitHub rotates refresh tokens on every refresh; real Google keeps the refresh token and
# answers a refresh with a new access token only. POST /_sandbox/config can change either.
DEFAULT_ROTATION = {"github": True, "google": False}


class Stats:
    """Request, grant and rate-limit counters, read by GET /_sandbox/stats."""

    def __init__(self):
        self.requests = defaultdict(Counter)        # provider -> "METHOD rule" -> n
        self.token_grants = defaultdict(Counter)    # provider -> grant_type -> n
        self.token_errors = defaultdict(Counter)    # provider -> error code -> n
        self.rate_limited = Counter()               # provider -> 429/403 rate-limit answers
        self.faults_served = defaultdict(Counter)   # provider -> kind -> n
        # provider -> every request that may write (not GET/HEAD), as received: method, path, query
        # and JSON body (tests compare an action's plan with what really arrived).
        self.writes = defaultdict(list)

    def as_dict(self) -> dict:
        return {
            "requests": {
                provider: {"total": sum(endpoints.values()), "endpoints": dict(endpoints)}
                for provider, endpoints in self.requests.items()
            },
            "token_grants": {p: dict(c) for p, c in self.token_grants.items()},
            "token_errors": {p: dict(c) for p, c in self.token_errors.items()},
            "rate_limited": dict(self.rate_limited),
            "faults_served": {p: dict(c) for p, c in self.faults_served.items()},
            "writes": {p: list(w) for p, w in self.writes.items()},
        }


class SandboxState:
    """Seeded data plus everything requests change: tokens, keys, faults, limits, counters.

    ``reset()`` puts it back exactly as ``create_app`` built it.
    """

    def __init__(self, *, seed, scale, access_token_ttl, refresh_token_ttl, clients, public_url):
        self.lock = threading.RLock()
        self.seed = seed
        self.scale = scale
        self.public_url = public_url.rstrip("/") if public_url else None
        from .providers import PROVIDERS

        # Kit emulations (sandbox/kit.py) bring their own default OAuth client, API keys and
        # access-token lifetime.
        declared = {name: p.client for name, p in PROVIDERS.items() if getattr(p, "client", None)}
        lifetimes = {name: p.token_ttl for name, p in PROVIDERS.items() if getattr(p, "token_ttl", None)}
        if isinstance(access_token_ttl, dict):
            access_token_ttl = {**lifetimes, **access_token_ttl}
        self._initial = {
            "access_token_ttl": copy.deepcopy(access_token_ttl),
            "refresh_token_ttl": refresh_token_ttl,
            "clients": _normalise_clients({**declared, **(clients or {})}),
            "keys": {name: set(p.keys) for name, p in PROVIDERS.items() if getattr(p, "keys", None)},
            "rotation": {**{name: p.rotate_refresh_tokens for name, p in PROVIDERS.items()
                            if getattr(p, "dialect", None) is not None}, **DEFAULT_ROTATION},
        }
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.clock_offset = 0.0
            self.access_token_ttl = copy.deepcopy(self._initial["access_token_ttl"])
            self.refresh_token_ttl = self._initial["refresh_token_ttl"]
            self.clients = copy.deepcopy(self._initial["clients"])
            self.rotate_refresh_tokens = dict(self._initial["rotation"])
            self.enforced_limits: dict[str, int] = {}     # provider -> requests per minute
            if hasattr(self, "faults"):
                self.faults.clear()     # no request stays held by a hold of the old state
            self.faults = FaultBook()
            self.limiter = RateLimiter()
            self.stats = Stats()
            self.tokens = TokenStore()
            # API keys and app tokens accepted, per provider.
            self.keys: dict[str, set] = {"pipedrive": {DEFAULT_PIPEDRIVE_KEY}, "x": {DEFAULT_X_BEARER},
                                         **copy.deepcopy(self._initial["keys"])}
            self.data = SeedData(self.seed, self.scale)
            # Kit emulations' seeded collections, built when first asked for.
            self.collections: dict = {}

    # The keys Pipedrive accepts and X's app tokens, by the names older code uses.
    pipedrive_keys = property(lambda self: self.keys.setdefault("pipedrive", set()),
                              lambda self, value: self.keys.__setitem__("pipedrive", set(value)))
    x_bearer_tokens = property(lambda self: self.keys.setdefault("x", set()),
                               lambda self, value: self.keys.__setitem__("x", set(value)))

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Wall clock plus the offset POST /_sandbox/clock added (token expiry, rate windows)."""
        return time.time() + self.clock_offset

    # -- configuration ------------------------------------------------------------------------
    def token_ttl(self, provider: str) -> int:
        ttl = self.access_token_ttl
        if isinstance(ttl, dict):
            return int(ttl.get(provider, ttl.get("default", 28800)))
        return int(ttl)

    def client(self, provider: str, client_id: str | None) -> dict | None:
        for client in self.clients.get(provider, []):
            if client_id and client["client_id"] == client_id:
                return client
        return None

    # -- revocation (fault "revoke_tokens") ---------------------------------------------------
    def revoke_provider_credentials(self, provider: str) -> int:
        """Revoke every credential of ``provider`` at once; returns how many were revoked."""
        with self.lock:
            if provider in self.keys:
                count = len(self.keys[provider])
                self.keys[provider].clear()
                return count
            return self.tokens.revoke_provider(provider)


def _normalise_clients(clients: dict) -> dict[str, list[dict]]:
    """Accept ``{provider: client}`` or ``{provider: [client, ...]}``."""
    normalised = {}
    for provider, value in (clients or {}).items():
        entries = value if isinstance(value, list) else [value]
        normalised[provider] = [dict(entry) for entry in entries]
    return normalised
