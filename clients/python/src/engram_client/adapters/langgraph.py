"""A LangGraph long-term memory store backed by engram.

``EngramStore`` is a :class:`langgraph.store.base.BaseStore`: agents built
with LangGraph put, get, search and list items by namespace, and engram
keeps them as memories, so they are also found by engram's own search and
context from any other client.

Each item is one memory: its text (the ``index`` fields of the value, or
the whole value as JSON) is what gets embedded; the namespace, key and
value ride in ``metadata["langgraph"]``. Labels locate items: one label
per namespace prefix (for prefix search) and one for the exact
``(namespace, key)`` (for get and put). Labels are hashed since engram
caps them at 64 characters and namespaces and keys are not.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from ..client import EngramClient
from ..models import Memory

META = "langgraph"
# engram's search answers at most 100 results.
MAX_SEARCH = 100


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


class EngramStore(BaseStore):
    """LangGraph's ``BaseStore`` over an engram tenant.

    ``prefix`` separates this store's items from other memories of the
    tenant (and from other stores); ``user_id`` and ``agent_id``, when
    given, are set on every item so engram's per-user deletion and
    filters cover them. ``index`` names the value fields embedded by
    default (``None``: the whole value as JSON). ``abatch`` runs ``batch``
    in a worker thread: the blocking client is thread-safe.
    """

    def __init__(
        self,
        client: EngramClient,
        *,
        prefix: str = "langgraph",
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        index: Optional[List[str]] = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.user_id = user_id
        self.agent_id = agent_id
        self.index_fields = index

    # Labels ------------------------------------------------------------
    def _root(self) -> str:
        return f"lg:{_digest(self.prefix)}"

    def _ns_label(self, namespace: Tuple[str, ...]) -> str:
        if not namespace:
            return self._root()
        return f"lg:ns:{_digest(self.prefix, *namespace)}"

    def _item_label(self, namespace: Tuple[str, ...], key: str) -> str:
        return f"lg:item:{_digest(self.prefix, *namespace, '', key)}"

    def _labels(self, namespace: Tuple[str, ...], key: str) -> List[str]:
        prefixes = [self._ns_label(namespace[:i]) for i in range(1, len(namespace) + 1)]
        return [self._root(), *prefixes, self._item_label(namespace, key)]

    # Items -------------------------------------------------------------
    def _text(self, value: Dict[str, Any], index: Any) -> str:
        fields = self.index_fields if index is None else index
        if fields:
            parts = [_at_path(value, f) for f in fields]
            text = " ".join(p if isinstance(p, str) else json.dumps(p) for p in parts if p is not None)
            if text.strip():
                return text
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def _find(self, namespace: Tuple[str, ...], key: str) -> Optional[Memory]:
        page = self.client.memories.list(label=self._item_label(namespace, key), limit=1)
        return page.items[0] if page.items else None

    @staticmethod
    def _item(mem: Memory, score: Optional[float] = None, search: bool = False) -> Item:
        meta = mem.metadata[META]
        args = dict(
            namespace=tuple(meta["namespace"]), key=meta["key"], value=meta["value"],
            created_at=mem.created_at, updated_at=mem.updated_at,
        )  # fmt: skip
        return SearchItem(**args, score=score) if search else Item(**args)

    def _ours(self, mem: Memory) -> bool:
        return META in mem.metadata and self._root() in mem.labels

    # Operations --------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> List[Result]:
        results: List[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                mem = self._find(op.namespace, op.key)
                results.append(self._item(mem) if mem else None)
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise ValueError(f"unknown operation {type(op).__name__}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> List[Result]:
        return await asyncio.get_running_loop().run_in_executor(None, self.batch, list(ops))

    def _put(self, op: PutOp) -> None:
        existing = self._find(op.namespace, op.key)
        if op.value is None:
            if existing:
                self.client.memories.delete(existing.id)
            return
        value = dict(op.value)
        metadata = {META: {"namespace": list(op.namespace), "key": op.key, "value": value}}
        content = self._text(value, op.index)
        if existing:
            self.client.memories.update(existing.id, content=content, metadata=metadata)
        else:
            self.client.memories.add(
                content,
                kind="semantic",
                labels=self._labels(op.namespace, op.key),
                metadata=metadata,
                user_id=self.user_id,
                agent_id=self.agent_id,
            )

    def _search(self, op: SearchOp) -> List[SearchItem]:
        label = self._ns_label(op.namespace_prefix)
        wanted = op.offset + op.limit
        if op.query:
            found = self.client.search(
                op.query, limit=MAX_SEARCH, filters={"labels": [label]}
            ).results
            scored: List[Tuple[Memory, Optional[float]]] = [(r.memory, r.score) for r in found]
        else:
            scored = [(mem, None) for mem in self.client.memories.iter(label=label)]
        hits = [
            self._item(mem, score, search=True)
            for mem, score in scored
            if self._ours(mem) and _matches(mem.metadata[META]["value"], op.filter)
        ]
        return hits[op.offset : wanted]  # type: ignore[return-value]

    def _list_namespaces(self, op: ListNamespacesOp) -> List[Tuple[str, ...]]:
        seen = set()
        for mem in self.client.memories.iter(label=self._root(), page_size=1000):
            if not self._ours(mem):
                continue
            ns = tuple(mem.metadata[META]["namespace"])
            if op.match_conditions and not all(_ns_matches(ns, c) for c in op.match_conditions):
                continue
            seen.add(ns[: op.max_depth] if op.max_depth is not None else ns)
        return sorted(seen)[op.offset : op.offset + op.limit]


def _at_path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def _matches(value: Dict[str, Any], filter: Optional[Dict[str, Any]]) -> bool:
    """LangGraph's filter language: equality, or ``{"$gt": x}``-style
    comparisons, on (dotted) value fields; every condition must hold."""
    for path, want in (filter or {}).items():
        have = _at_path(value, path)
        if isinstance(want, dict) and want and all(k in _OPS for k in want):
            if not all(_OPS[k](have, v) for k, v in want.items()):
                return False
        elif have != want:
            return False
    return True


def _ns_matches(ns: Tuple[str, ...], cond: MatchCondition) -> bool:
    path: Sequence[str] = cond.path
    if len(path) > len(ns):
        return False
    part = ns[: len(path)] if cond.match_type == "prefix" else ns[len(ns) - len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part))
