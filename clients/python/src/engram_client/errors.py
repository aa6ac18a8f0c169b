"""Errors raised by the client.

Every error the server answers is an ``application/problem+json`` body with a
stable ``code`` (docs/ERRORS.md in the engram repository); :class:`ApiError`
carries it so callers branch on the code, not on the wording of ``detail``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional


class EngramError(Exception):
    """Base of everything this package raises."""


class TransportError(EngramError):
    """The server could not be reached (connection refused, DNS, timeout).

    Nothing is known about whether a write happened; retry it with the same
    ``idempotency_key``.
    """


class ApiError(EngramError):
    """The server answered with an error status.

    ``code`` is the problem's stable code (``invalid_field``, ``not_found``,
    ``budget_exceeded``...), ``field`` the request field at fault when the
    server named one, ``retry_after`` the seconds the server asked to wait
    (429, 503).
    """

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        field: Optional[str] = None,
        retry_after: Optional[float] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        where = f" (field {field})" if field else ""
        super().__init__(f"{status} {code}: {detail}{where}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
        self.retry_after = retry_after
        self.body = body or {}


class BadRequest(ApiError):
    """400: the request is malformed or a field is invalid (see ``field``)."""


class Unauthorized(ApiError):
    """401: the key is missing or unknown."""


class BudgetExceeded(ApiError):
    """402: a hard budget of the tenant or project is spent."""


class Forbidden(ApiError):
    """403: the key lacks the scope (``read``/``write``) or is not the admin key."""


class NotFound(ApiError):
    """404: no such thing in this tenant."""


class Conflict(ApiError):
    """409: e.g. an idempotency key reused with another body, or no LLM configured."""


class PayloadTooLarge(ApiError):
    """413: the body is over the server's limit; send smaller batches."""


class RateLimited(ApiError):
    """429: still rate limited after the client's retries."""


class Unavailable(ApiError):
    """503: the server is not ready or the request took too long, after retries."""


_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    402: BudgetExceeded,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
    503: Unavailable,
}


def error_from_response(
    status: int, body: Any, retry_after: Optional[float]
) -> ApiError:
    """The exception for an error answer; a body that is no problem document
    (a proxy's HTML page) still gives an error naming the status."""
    problem = body if isinstance(body, dict) else {}
    cls = _BY_STATUS.get(status, ApiError)
    return cls(
        status=status,
        code=str(problem.get("code") or f"http_{status}"),
        title=str(problem.get("title") or ""),
        detail=str(problem.get("detail") or (body if isinstance(body, str) else "no detail")),
        field=problem.get("field"),
        retry_after=retry_after,
        body=problem,
    )
