"""What both clients share: a call's description, building its request, reading its answer,
and when to retry. The async and the sync client differ only in how they send and wait."""
from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from . import __version__
from .errors import APIConnectionError, TributaryError, error_for, retry_after

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
Params = Mapping[str, str | int | bool | None]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request and how to read its answer. ``idempotent`` calls (reads, deletes, puts, and
    POSTs that change nothing twice) are retried after a 5xx or a lost connection; every call is
    retried after a 429, which the server answers before doing anything."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Params = field(default_factory=dict)
    json: Any = None
    idempotent: bool = False

    @classmethod
    def get(cls, path: str, parse: Callable[[Any], T], **params: str | int | bool | None) -> Call[T]:
        return cls("GET", path, parse, params, idempotent=True)

    @classmethod
    def delete(cls, path: str, parse: Callable[[Any], T]) -> Call[T]:
        return cls("DELETE", path, parse, idempotent=True)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Pages(Generic[T]):
    """A cursor-paged listing: ``call(cursor)`` asks for one page (``None``: the first)."""

    call: Callable[[str | None], Call[Page[T]]]


def model(cls: type[M]) -> Callable[[Any], M]:
    return cls.model_validate


def field_of(cls: type[BaseModel], name: str) -> Callable[[Any], Any]:
    """Read the answer as ``cls`` and return its ``name`` (a listing's array)."""
    return lambda data: getattr(cls.model_validate(data), name)


def union(annotation: Any) -> Callable[[Any], Any]:
    """Read the answer as one of a discriminated union's members (``ConnectResponse`` ...)."""
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    return adapter.validate_python


def page(cls: type[BaseModel], name: str) -> Callable[[Any], Page[Any]]:
    def parse(data: Any) -> Page[Any]:
        listing = cls.model_validate(data)
        return Page(list(getattr(listing, name)), getattr(listing, "next_cursor"))
    return parse


def timestamp(value: str | date | datetime | None) -> str | None:
    """A date or date-time as the API reads it (ISO 8601; a naive date-time is UTC)."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the fields left out (``None``)."""
    return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Settings:
    """A client's connection settings. ``max_retries`` counts retries after the first attempt;
    a ``Retry-After`` longer than ``max_retry_after`` seconds is not waited for (the error is
    raised with its ``retry_after``)."""

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    max_retries: int = 2
    max_retry_after: float = 60.0
    backoff: float = 0.5

    @classmethod
    def resolve(cls, api_key: str | None, base_url: str | None, **options: Any) -> Settings:
        key = api_key or os.environ.get("TRIBUTARY_API_KEY")
        if not key:
            raise TributaryError("No API key: pass api_key= or set TRIBUTARY_API_KEY.", code="missing_api_key")
        url = base_url or os.environ.get("TRIBUTARY_BASE_URL") or DEFAULT_BASE_URL
        return cls(api_key=key, base_url=url.rstrip("/"), **options)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json",
                "User-Agent": f"tributary-python/{__version__}"}

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        params = {name: _param(value) for name, value in call.params.items() if value is not None}
        return http.build_request(call.method, call.path, params=params, json=call.json)

    def retry_delay(self, call: Call[Any], attempt: int, outcome: httpx.Response | Exception) -> float | None:
        """Seconds to wait before retrying ``call`` after ``outcome`` of try number ``attempt``
        (0 for the first), or ``None``: do not retry."""
        if attempt >= self.max_retries:
            return None
        if isinstance(outcome, Exception):
            transient = call.idempotent and isinstance(outcome, httpx.TransportError)
            return self._backoff(attempt) if transient else None
        status = outcome.status_code
        if status == 429 or (status >= 500 and call.idempotent):
            asked = retry_after(outcome)
            if asked is None:
                return self._backoff(attempt)
            return asked if asked <= self.max_retry_after else None
        return None

    def _backoff(self, attempt: int) -> float:
        """Exponential with full jitter: 0 to backoff * 2**attempt seconds."""
        return random.uniform(0, self.backoff * 2 ** attempt)


def _param(value: str | int | bool) -> str | int:
    return ("true" if value else "false") if isinstance(value, bool) else value


def read(call: Call[T], response: httpx.Response) -> T:
    """The answer's value, or the error it stands for."""
    if response.status_code >= 400:
        raise error_for(response)
    return call.parse(response.json())


def unreachable(call: Call[Any], exc: Exception) -> APIConnectionError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return APIConnectionError(f"{call.method} {call.path} {kind}: {exc}", code="connection_error")
