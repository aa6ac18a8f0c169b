"""The two clients: :class:`EngramClient` (blocking) and
:class:`AsyncEngramClient` (asyncio), with the same methods."""

from __future__ import annotations

import os
from typing import Any, AsyncIterator, Callable, Iterator, Optional

import httpx

from . import __version__
from ._api import Api
from ._async_api import AsyncApi
from ._transport import Request, RetryPolicy, send_async, send_sync
from .models import Page

DEFAULT_URL = "http://127.0.0.1:8080"


class _Base:
    """Settings and the HTTP session; the API itself comes from ``Api``
    (typed blocking) or ``AsyncApi`` (typed awaited), the same class at run
    time."""

    _http_class: Any
    # Api or AsyncApi, first in each client's bases, builds the resource groups.
    _init_resources: Callable[[], None]

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        retry: Optional[RetryPolicy] = None,
        http: Any = None,
    ) -> None:
        self.url = (url or os.environ.get("ENGRAM_URL") or DEFAULT_URL).rstrip("/")
        self.retry = retry or RetryPolicy()
        self._http = http or self._http_class(timeout=timeout)
        self._http.base_url = self.url
        self._http.headers["User-Agent"] = f"engram-client-python/{__version__}"
        key = api_key or os.environ.get("ENGRAM_API_KEY")
        if key:
            self._http.headers["Authorization"] = f"Bearer {key}"
        self._init_resources()


def _next(req: Request, cursor: str) -> Request:
    return Request(req.method, req.path, params={**(req.params or {}), "cursor": cursor},
                   parse=req.parse)  # fmt: skip


class EngramClient(Api, _Base):
    """A blocking client: ``EngramClient(url, api_key, *, timeout=30.0,
    retry=RetryPolicy(), http=None)``.

    ``url`` and ``api_key`` default to ``ENGRAM_URL`` and ``ENGRAM_API_KEY``;
    the admin calls (``client.admin``) need the admin key instead of a
    tenant key. ``http`` is your own ``httpx.Client`` (proxies, TLS). Use it
    as a context manager, or call :meth:`close`.
    """

    _http_class = httpx.Client
    _http: httpx.Client

    def _send(self, req: Request) -> Any:
        return send_sync(self._http, self.retry, req)

    def _pages(self, req: Request) -> Iterator[Any]:
        while True:
            page: Page = self._send(req)
            yield from page.items
            if not page.next_cursor:
                return
            req = _next(req, page.next_cursor)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "EngramClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncEngramClient(AsyncApi, _Base):
    """The asyncio client: every method of :class:`EngramClient`, awaited;
    the ``iter*`` methods are async iterators (``async for``)."""

    _http_class = httpx.AsyncClient
    _http: httpx.AsyncClient

    def _send(self, req: Request) -> Any:
        return send_async(self._http, self.retry, req)

    async def _pages(self, req: Request) -> AsyncIterator[Any]:
        while True:
            page: Page = await self._send(req)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            req = _next(req, page.next_cursor)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncEngramClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
