"""Injected faults and rate limiting.

A fault affects the next ``count`` requests to one provider (optionally only paths under
``path_prefix``, only one HTTP ``method``); the provider modules turn it into the provider's own
error answer. A ``hold`` fault makes its requests wait until the control API lets them through
(``release``): a test can stop a sync between two pages, change the source, then let it go on,
without racing a timer.
The rate limiter is a sliding window per (provider, credential): it always feeds the
rate-limit headers, and refuses requests only where POST /_sandbox/config enforced a limit.
"""
from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from dataclasses import dataclass, field

PROVIDER_NAMES = ("github", "pipedrive", "x", "google")   # and every kit emulation: provider_names()
FAULT_KINDS = ("rate_limit", "server_error", "client_error", "latency", "revoke_tokens", "malformed", "hold")
HOLD_MS = 30_000    # the longest a held request waits unless a hold's latency_ms says otherwise
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SERVER_ERROR_STATUSES = (500, 502, 503)
CLIENT_ERROR_STATUSES = (400, 403, 404, 409, 410, 422)


def provider_names() -> tuple[str, ...]:
    """Every emulated provider's name (kit emulations register themselves)."""
    from .providers import PROVIDERS

    return tuple(dict.fromkeys(PROVIDER_NAMES + tuple(PROVIDERS)))


def _rate_limit_statuses(provider: str) -> tuple[int, ...]:
    """The statuses a kit emulation answers a spent quota with (``Emulation.rate_limit_statuses``)."""
    from .providers import PROVIDERS

    return tuple(getattr(PROVIDERS.get(provider), "rate_limit_statuses", (429,)))


class FaultError(ValueError):
    """A fault request that does not make sense; the control API answers 400 with it."""


@dataclass(eq=False)
class Fault:
    id: int
    provider: str
    kind: str
    remaining: int
    retry_after: int = 60
    status: int | None = None
    latency_ms: int = 0
    path_prefix: str | None = None
    method: str | None = None
    # hold: requests let through but not yet arrived, requests waiting now, lifted for good
    permits: int = 0
    waiting: int = 0
    lifted: bool = False
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def as_dict(self) -> dict:
        shown = {
            "id": self.id, "provider": self.provider, "kind": self.kind,
            "remaining": self.remaining,
            "retry_after": self.retry_after, "status": self.status, "latency_ms": self.latency_ms,
            "path_prefix": self.path_prefix, "method": self.method,
        }
        if self.kind == "hold":
            with self._changed:
                shown.update(waiting=self.waiting, permits=self.permits)
        return shown

    def wait(self) -> bool:
        """A held request: wait for a permit or the lift (at most latency_ms). False: timed out."""
        with self._changed:
            self.waiting += 1
            self._changed.notify_all()
            try:
                through = self._changed.wait_for(lambda: self.lifted or self.permits > 0,
                                                 timeout=self.latency_ms / 1000)
                if through and not self.lifted:
                    self.permits -= 1
                return through
            finally:
                self.waiting -= 1
                self._changed.notify_all()

    def release(self, requests: int | None) -> None:
        """Let ``requests`` more held requests through (any that wait, or the next to come); None: lift it."""
        with self._changed:
            if requests is None:
                self.lifted = True
            else:
                self.permits += requests
            self._changed.notify_all()


class FaultBook:
    """Pending faults, consumed first-in first-out by matching requests."""

    def __init__(self):
        self._faults: list[Fault] = []
        self._holds: dict[int, Fault] = {}     # every hold until cleared, used up or not
        self._ids = itertools.count(1)

    @staticmethod
    def validate(spec: dict) -> dict:
        provider = spec.get("provider")
        kind = spec.get("kind")
        if provider not in provider_names():
            raise FaultError(f"provider must be one of {', '.join(provider_names())}")
        if kind not in FAULT_KINDS:
            raise FaultError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        try:
            count = int(spec.get("count", 1))
            retry_after = int(spec.get("retry_after", 60))
            latency_ms = int(spec.get("latency_ms", 0))
            status = spec.get("status")
            status = int(status) if status is not None else None
        except (TypeError, ValueError) as exc:
            raise FaultError("count, retry_after, latency_ms and status must be integers") from exc
        if count < 1:
            raise FaultError("count must be at least 1")
        if retry_after < 0 or latency_ms < 0:
            raise FaultError("retry_after and latency_ms must not be negative")
        if kind == "server_error":
            status = status or 500
            if status not in SERVER_ERROR_STATUSES:
                raise FaultError("status must be 500, 502 or 503 for server_error")
        if kind == "client_error":
            status = status or 422
            if status not in CLIENT_ERROR_STATUSES:
                raise FaultError("status must be one of " + ", ".join(map(str, CLIENT_ERROR_STATUSES))
                                 + " for client_error")
        if kind == "rate_limit":
            status = status or 429
            if status not in (403, 429, 503):
                raise FaultError("status must be 429, 403 or 503 (SharePoint's \"Server Too Busy\") for rate_limit")
            if status == 403 and provider != "github" and 403 not in _rate_limit_statuses(provider):
                raise FaultError("only GitHub and the emulations that declare it answer rate limits with 403")
        if kind == "latency" and latency_ms == 0:
            raise FaultError("latency needs latency_ms > 0")
        if kind == "hold":
            latency_ms = latency_ms or HOLD_MS
        path_prefix = spec.get("path_prefix")
        if path_prefix is not None and not isinstance(path_prefix, str):
            raise FaultError("path_prefix must be a string")
        method = spec.get("method")
        if method is not None:
            if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
                raise FaultError(f"method must be one of {', '.join(HTTP_METHODS)}")
            method = method.upper()
        return {"provider": provider, "kind": kind, "count": count, "retry_after": retry_after,
                "status": status, "latency_ms": latency_ms, "path_prefix": path_prefix, "method": method}

    def add(self, spec: dict) -> Fault:
        valid = self.validate(spec)
        fault = Fault(id=next(self._ids), provider=valid["provider"], kind=valid["kind"],
                      remaining=valid["count"], retry_after=valid["retry_after"],
                      status=valid["status"], latency_ms=valid["latency_ms"],
                      path_prefix=valid["path_prefix"], method=valid["method"])
        self._faults.append(fault)
        if fault.kind == "hold":
            self._holds[fault.id] = fault
        return fault

    def take(self, provider: str, path: str, method: str = "GET") -> Fault | None:
        """Consume one use of the oldest fault matching this request, if any."""
        for fault in self._faults:
            if fault.provider != provider:
                continue
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            if fault.method and method != fault.method:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def hold(self, fault_id: int) -> Fault | None:
        return self._holds.get(fault_id)

    def lift(self, fault_id: int) -> None:
        """A lifted hold matches no more requests."""
        self._faults = [fault for fault in self._faults if fault.id != fault_id]

    def pending(self) -> list[dict]:
        """Faults with uses left, and used-up holds that still keep a request waiting."""
        used_up = [hold for hold in self._holds.values() if hold not in self._faults and hold.waiting]
        return [fault.as_dict() for fault in self._faults + used_up]

    def clear(self) -> int:
        """Drop every fault; requests a hold keeps waiting go on at once."""
        count = len(self._faults)
        self._faults.clear()
        for hold in self._holds.values():
            hold.release(None)
        self._holds.clear()
        return count


@dataclass
class RateInfo:
    """What a rate-limit header or a 429 says about one credential's window."""

    limit: int
    remaining: int
    used: int
    reset_at: float          # epoch seconds when the window frees a slot again
    window: int
    allowed: bool = True
    retry_after: int = 0
    enforced: bool = False
    extra: dict = field(default_factory=dict)

    def seconds_to_reset(self, now: float) -> int:
        return max(1, math.ceil(self.reset_at - now))


class RateLimiter:
    """Sliding windows of request times per key."""

    def __init__(self):
        self._windows: dict[tuple, deque] = {}

    def hit(self, key: tuple, *, limit: int, window: int, now: float, enforce: bool) -> RateInfo:
        times = self._windows.setdefault(key, deque())
        while times and times[0] <= now - window:
            times.popleft()
        if enforce and len(times) >= limit:
            reset_at = times[0] + window
            return RateInfo(limit=limit, remaining=0, used=len(times), reset_at=reset_at,
                            window=window, allowed=False, enforced=True,
                            retry_after=max(1, math.ceil(reset_at - now)))
        times.append(now)
        if len(times) > limit:      # not enforced: keep the window bounded, report 0 left
            times.popleft()
        reset_at = times[0] + window
        return RateInfo(limit=limit, remaining=max(limit - len(times), 0), used=len(times),
                        reset_at=reset_at, window=window, enforced=enforce)

    @staticmethod
    def exhausted(*, limit: int, window: int, now: float, retry_after: int) -> RateInfo:
        """The window an injected rate_limit fault pretends to have used up."""
        return RateInfo(limit=limit, remaining=0, used=limit, reset_at=now + retry_after,
                        window=window, allowed=False, retry_after=retry_after)
