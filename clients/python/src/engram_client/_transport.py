"""Sending requests: authentication, retries on 429 and 503, and turning
error answers into exceptions. One policy, used by the sync and the async
client alike."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import httpx

from .errors import ApiError, TransportError, error_from_response

RETRY_STATUSES = frozenset({429, 503})


@dataclass
class Request:
    method: str
    path: str
    json: Any = None
    params: Optional[Dict[str, Any]] = None
    headers: Dict[str, str] = field(default_factory=dict)
    content: Any = None
    # Turns the decoded body into the caller's type; None for no body.
    parse: Optional[Callable[[Any], Any]] = None
    raw: bool = False


@dataclass
class RetryPolicy:
    """How often and how long to wait on 429 (rate limited) and 503 (not
    ready, or too slow). ``Retry-After`` is honoured up to ``max_wait``
    seconds; without it the wait doubles from ``backoff``."""

    max_retries: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0

    def delay(self, attempt: int, error: ApiError) -> Optional[float]:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if error.status not in RETRY_STATUSES or attempt >= self.max_retries:
            return None
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_wait)
        jitter = random.uniform(0, self.backoff / 2)
        return min(self.backoff * (2**attempt) + jitter, self.max_wait)


def _retry_after(resp: httpx.Response) -> Optional[float]:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: engram sends seconds, proxies rarely dates


def _query(params: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not params:
        return None
    out: Dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


def build(client: httpx.Client | httpx.AsyncClient, req: Request) -> httpx.Request:
    return client.build_request(
        req.method,
        req.path,
        json=req.json,
        params=_query(req.params),
        headers=req.headers,
        content=req.content,
    )


def result(resp: httpx.Response, req: Request) -> Any:
    """The parsed body of a success; raises the error of anything else."""
    if resp.status_code >= 400:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        raise error_from_response(resp.status_code, body, _retry_after(resp))
    if req.raw:
        return resp.text
    if req.parse is None or resp.status_code == 204:
        return None
    return req.parse(resp.json())


@contextmanager
def _reaching(req: Request) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as e:
        raise TransportError(f"{req.method} {req.path}: {e}") from e


def _settle(policy: RetryPolicy, attempt: int, req: Request, resp: httpx.Response) -> Tuple[bool, Any]:
    """``(True, value)`` when the call is done, ``(False, seconds)`` to wait
    before trying again; raises the error of an answer not to retry."""
    try:
        return True, result(resp, req)
    except ApiError as e:
        wait = policy.delay(attempt, e)
        if wait is None:
            raise
        return False, wait


def send_sync(client: httpx.Client, policy: RetryPolicy, req: Request) -> Any:
    for attempt in itertools.count():
        with _reaching(req):
            resp = client.send(build(client, req))
        done, value = _settle(policy, attempt, req, resp)
        if done:
            return value
        time.sleep(value)


async def send_async(client: httpx.AsyncClient, policy: RetryPolicy, req: Request) -> Any:
    for attempt in itertools.count():
        with _reaching(req):
            resp = await client.send(build(client, req))
        done, value = _settle(policy, attempt, req, resp)
        if done:
            return value
        await asyncio.sleep(value)
