"""The server's objects as typed dataclasses.

Fields the server adds later are kept in ``extra`` rather than dropped or
refused, so an older client keeps working against a newer server.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Type, TypeVar, Union, get_type_hints

T = TypeVar("T")


def _parse_time(value: str) -> datetime:
    # Python < 3.11 does not read a trailing "Z".
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return datetime.fromisoformat(value)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = getattr(tp, "__origin__", None)
    if origin is Union:
        inner = [a for a in tp.__args__ if a is not type(None)]
        return _decode(inner[0], value) if len(inner) == 1 else value
    if origin in (list, List):
        (item,) = tp.__args__
        return [_decode(item, v) for v in value]
    if tp is datetime:
        return _parse_time(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode(tp, value)
    return value


def decode(cls: Type[T], data: Dict[str, Any]) -> T:
    """``cls`` from a JSON object: times parsed, nested objects typed,
    unknown keys kept in ``extra``."""
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls)} - {"extra"}  # type: ignore[arg-type]
    args = {k: _decode(hints[k], v) for k, v in data.items() if k in known}
    obj = cls(**args)
    extra = {k: v for k, v in data.items() if k not in known}
    if extra and "extra" in hints:
        obj.extra = extra  # type: ignore[attr-defined]
    return obj


_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return _HINTS[cls]


def encode(value: Any) -> Any:
    """JSON-ready: times as RFC 3339, ``None`` fields left out."""
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "extra" and getattr(value, f.name) is not None
        }
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


@dataclass
class Memory:
    id: str
    content: str
    kind: str = "episodic"
    user_id: Optional[str] = None
    agent_id: Optional[str] = None
    session_id: Optional[str] = None
    role: Optional[str] = None
    labels: List[str] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)
    importance: float = 0.5
    occurred_at: Optional[datetime] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    valid_from: Optional[datetime] = None
    valid_to: Optional[datetime] = None
    sources: List[str] = field(default_factory=list)
    version: int = 1
    version_of: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class NewMemory:
    """One item of :meth:`Memories.add_batch` (the body of a single add too)."""

    content: str
    kind: Optional[str] = None
    user_id: Optional[str] = None
    agent_id: Optional[str] = None
    session_id: Optional[str] = None
    role: Optional[str] = None
    labels: Optional[List[str]] = None
    metadata: Optional[Dict[str, Any]] = None
    importance: Optional[float] = None
    occurred_at: Optional[datetime] = None
    embedding: Optional[List[float]] = None
    valid_from: Optional[datetime] = None
    valid_to: Optional[datetime] = None
    sources: Optional[List[str]] = None
    infer: Optional[bool] = None


@dataclass
class Filters:
    """Restricts a search, context or answer to part of the tenant; every
    given condition must hold (``labels``: all of them)."""

    user_id: Optional[str] = None
    agent_id: Optional[str] = None
    session_id: Optional[str] = None
    kind: Optional[str] = None
    labels: Optional[List[str]] = None
    after: Optional[datetime] = None
    before: Optional[datetime] = None


@dataclass
class BatchResult:
    ids: List[str]
    jobs: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Page:
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next
    (the ``iter_*`` methods do)."""

    items: List[Any]
    next_cursor: Optional[str] = None


@dataclass
class SearchResult:
    memory: Memory
    score: float


@dataclass
class SearchResponse:
    results: List[SearchResult]
    took_ms: float = 0.0
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Citation:
    id: str
    content: str
    occurred_at: datetime
    score: float
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Context:
    """A prompt-ready block (``context``) within the token budget, and the
    memories it cites."""

    context: str
    tokens: int
    items: List[Citation] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TokenUsage:
    input_tokens: int
    output_tokens: int


@dataclass
class Answer:
    answer: str
    model: str
    usage: TokenUsage
    context: Context
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class History:
    """Every version of a fact, oldest first, the current one last."""

    versions: List[Memory]


@dataclass
class Conversation:
    id: str
    title: str
    user_id: Optional[str] = None
    agent_id: Optional[str] = None
    label: Optional[str] = None
    folder: Optional[str] = None
    importance: int = 5
    pinned: bool = False
    archived: bool = False
    metadata: Dict[str, Any] = field(default_factory=dict)
    source: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Message:
    """A message of a conversation; its ``id`` is also a memory's."""

    id: str
    conversation_id: str
    role: str
    content: str
    occurred_at: Optional[datetime] = None
    metadata: Dict[str, Any] = field(default_factory=dict)
    created_at: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Folder:
    """A folder of conversations: ``conversations`` directly in it,
    ``total`` in it and below it."""

    path: str
    depth: int = 0
    conversations: int = 0
    total: int = 0
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ImportJob:
    """An import's progress; ``status`` is ``running`` until it is
    ``done`` or ``failed``."""

    id: str
    status: str
    format: Optional[str] = None
    total: int = 0
    conversations: int = 0
    messages: int = 0
    skipped: int = 0
    error: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Job:
    """A background job (fact extraction, summaries, re-embedding)."""

    id: str
    kind: str
    status: str
    attempts: int = 0
    max_attempts: int = 0
    last_error: Optional[str] = None
    result: Any = None
    run_after: Optional[datetime] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class UsageItem:
    group: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float
    duration_ms: int
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Usage:
    group_by: str
    items: List[UsageItem]
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Tenant:
    id: str
    name: str
    created_at: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Key:
    """A tenant key. ``key`` (the secret) is only set when it was just
    created: the server keeps only its hash."""

    id: str
    name: str
    scopes: List[str]
    created_at: Optional[datetime] = None
    tenant_id: Optional[str] = None
    key: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Budget:
    metric: str
    period: str
    limit: float
    hard: bool = False
    project: Optional[str] = None
    used: float = 0.0
    resets_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)
