"""The two ways of sending a call, async and blocking, and the descriptors that turn one
definition of an operation (``_operations.Operations``) into a method of either client.

An operation is written once, as a function that builds a ``Call``; ``@operation`` makes it an
attribute that reads, on the async client, as ``async def name(...) -> T`` and, on the
blocking one, as ``def name(...) -> T``, with the same parameters (mypy sees both).
``@paginated`` does the same for cursor listings: an async iterator or an iterator of items.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

import httpx

from ._core import Call, Pages, Settings, read, unreachable

P = ParamSpec("P")
T = TypeVar("T")

Outcome = httpx.Response | httpx.TransportError
# What an exchange asks of its driver: send this request, or sleep this many seconds.
Step = httpx.Request | float


def exchange(settings: Settings, http: httpx.Client | httpx.AsyncClient,
             call: Call[T]) -> Generator[Step, Outcome | None, T]:
    """One call with its retries, without I/O: yields a request (send back its outcome) or a
    delay (send back ``None`` once slept), and returns the answer's value or raises its error."""
    attempt = 0
    while True:
        outcome = yield settings.request(http, call)
        assert outcome is not None
        delay = settings.retry_delay(call, attempt, outcome)
        if delay is None:
            if isinstance(outcome, Exception):
                raise unreachable(call, outcome) from outcome
            return read(call, outcome)
        yield delay
        attempt += 1


class _Transport:
    def __init__(self, api_key: str | None = None, base_url: str | None = None, *, timeout: float = 30.0,
                 max_retries: int = 2) -> None:
        """``api_key`` and ``base_url`` default to ``TRIBUTARY_API_KEY`` and ``TRIBUTARY_BASE_URL``."""
        self._settings = Settings.resolve(api_key, base_url, timeout=timeout, max_retries=max_retries)
        self._open({"base_url": self._settings.base_url, "headers": self._settings.headers(),
                    "timeout": self._settings.timeout})

    def _open(self, options: dict[str, Any]) -> None:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self._settings.base_url


class AsyncTransport(_Transport):
    _http: httpx.AsyncClient

    def _open(self, options: dict[str, Any]) -> None:
        self._http = httpx.AsyncClient(**options)

    async def _send(self, call: Call[T]) -> T:
        steps = exchange(self._settings, self._http, call)
        try:
            step = next(steps)
            while True:
                step = steps.send(await self._perform(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _perform(self, step: Step) -> Outcome | None:
        if isinstance(step, float):
            await asyncio.sleep(step)
            return None
        try:
            return await self._http.send(step)
        except httpx.TransportError as exc:
            return exc

    async def _pages(self, pages: Pages[T]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self._send(pages.call(cursor))
            for item in page.items:
                yield item
            if (cursor := page.next_cursor) is None:
                return

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


class SyncTransport(_Transport):
    _http: httpx.Client

    def _open(self, options: dict[str, Any]) -> None:
        self._http = httpx.Client(**options)

    def _send(self, call: Call[T]) -> T:
        steps = exchange(self._settings, self._http, call)
        try:
            step = next(steps)
            while True:
                step = steps.send(self._perform(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _perform(self, step: Step) -> Outcome | None:
        if isinstance(step, float):
            time.sleep(step)
            return None
        try:
            return self._http.send(step)
        except httpx.TransportError as exc:
            return exc

    def _pages(self, pages: Pages[T]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self._send(pages.call(cursor))
            yield from page.items
            if (cursor := page.next_cursor) is None:
                return

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@functools.cache
def _signature(build: Callable[..., Any], returns: str) -> inspect.Signature:
    """``build``'s signature answering ``returns`` (what ``help()`` and editors show) instead of
    the ``Call`` or ``Pages`` it builds."""
    signature = inspect.signature(build)
    built = str(signature.return_annotation)  # "Call[QueryResponse]"
    return signature.replace(return_annotation=returns.format(built[built.index("[") + 1:-1]))


def _method(build: Callable[..., Any], call: Callable[..., Any], returns: str) -> Callable[..., Any]:
    method = functools.wraps(build)(call)
    method.__signature__ = _signature(build, returns)  # type: ignore[attr-defined]
    return method


class Operation(Generic[P, T]):
    """An operation, a method of either client (see the module's docstring)."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: AsyncTransport, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, instance: SyncTransport, owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, instance: object, owner: type[Any]) -> Any:
        if instance is None:
            return self
        build = self.build
        if isinstance(instance, AsyncTransport):
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return await instance._send(build(*args, **kwargs))
            return _method(build, call_async, "{}")
        assert isinstance(instance, SyncTransport)

        def call(*args: Any, **kwargs: Any) -> Any:
            return instance._send(build(*args, **kwargs))
        return _method(build, call, "{}")


class Paginated(Generic[P, T]):
    """A cursor listing, an iterator of its items on either client, fetching pages as it goes."""

    def __init__(self, build: Callable[P, Pages[T]]) -> None:
        self.build = build

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: AsyncTransport, owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...
    @overload
    def __get__(self, instance: SyncTransport, owner: type[Any]) -> Callable[P, Iterator[T]]: ...

    def __get__(self, instance: object, owner: type[Any]) -> Any:
        if instance is None:
            return self
        assert isinstance(instance, (AsyncTransport, SyncTransport))
        build, pages = self.build, instance._pages
        returns = "AsyncIterator[{}]" if isinstance(instance, AsyncTransport) else "Iterator[{}]"
        return _method(build, lambda *args, **kwargs: pages(build(*args, **kwargs)), returns)


def operation(build: Callable[P, Call[T]]) -> Operation[P, T]:
    return Operation(build)


def paginated(build: Callable[P, Pages[T]]) -> Paginated[P, T]:
    return Paginated(build)
