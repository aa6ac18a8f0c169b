"""The v1 API, written once for both clients.

Each method builds a :class:`Request` and hands it to the client's
``_send``, which runs it at once (:class:`engram_client.EngramClient`) or
returns an awaitable (:class:`engram_client.AsyncEngramClient`); list walks
go through ``_pages`` the same way. So the sync and async surfaces cannot
drift apart.

The annotations here are the blocking client's. The async client's are in
``_async_api.pyi``, generated from this file by
``clients/python/scripts/gen_async_stub.py`` (a test fails when it is stale):
run that script after changing a signature here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import models as m
from ._transport import Request
from .models import decode, encode

FiltersArg = Union[m.Filters, Dict[str, Any], None]
Json = Dict[str, Any]


def _body(**fields: Any) -> Json:
    """A JSON body of the fields that were given."""
    return encode({k: v for k, v in fields.items() if v is not None})


def _filters(f: FiltersArg) -> Optional[Json]:
    return encode(f) if f is not None else None


def _page(cls: type):
    def parse(data: Json) -> m.Page:
        return m.Page(
            items=[decode(cls, i) for i in data.get("items", [])],
            next_cursor=data.get("next_cursor"),
        )

    return parse


def _of(cls: type):
    return lambda data: decode(cls, data)


def _items(cls: type, key: str = "items"):
    return lambda data: [decode(cls, i) for i in data.get(key, [])]


def _project(project: Optional[str]) -> Dict[str, str]:
    return {"X-Project-ID": project} if project else {}


class _Resource:
    def __init__(self, client: "Api") -> None:
        self._c = client


class Memories(_Resource):
    """``/v1/memories``: write, read, list and delete memories."""

    def add(
        self,
        content: str,
        *,
        kind: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        session_id: Optional[str] = None,
        role: Optional[str] = None,
        labels: Optional[List[str]] = None,
        metadata: Optional[Json] = None,
        importance: Optional[float] = None,
        occurred_at: Optional[datetime] = None,
        valid_from: Optional[datetime] = None,
        valid_to: Optional[datetime] = None,
        sources: Optional[List[str]] = None,
        embedding: Optional[List[float]] = None,
        infer: Optional[bool] = None,
        idempotency_key: Optional[str] = None,
        project: Optional[str] = None,
    ) -> m.Memory:
        """Adds one memory. Without ``idempotency_key`` a fresh one is made,
        so the client's own retries (429, 503) never write it twice; pass
        your own to make your retries safe too."""
        body = _body(
            content=content, kind=kind, user_id=user_id, agent_id=agent_id,
            session_id=session_id, role=role, labels=labels, metadata=metadata,
            importance=importance, occurred_at=occurred_at, valid_from=valid_from,
            valid_to=valid_to, sources=sources, embedding=embedding, infer=infer,
        )  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        headers.update(_project(project))
        return self._c._send(
            Request("POST", "/v1/memories", json=body, headers=headers, parse=_of(m.Memory))
        )

    def add_batch(
        self,
        items: Sequence[Union[m.NewMemory, Json]],
        *,
        idempotency_key: Optional[str] = None,
        project: Optional[str] = None,
    ) -> m.BatchResult:
        """Adds up to 1000 memories, all or none. The idempotency key works
        as in :meth:`add`: a retry of the same batch answers the first
        write's ids."""
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        headers.update(_project(project))
        return self._c._send(
            Request(
                "POST",
                "/v1/memories/batch",
                json={"items": [encode(i) for i in items]},
                headers=headers,
                parse=_of(m.BatchResult),
            )
        )

    def get(self, id: str) -> m.Memory:
        return self._c._send(Request("GET", f"/v1/memories/{id}", parse=_of(m.Memory)))

    def update(
        self,
        id: str,
        *,
        content: Optional[str] = None,
        labels: Optional[List[str]] = None,
        metadata: Optional[Json] = None,
        importance: Optional[float] = None,
        kind: Optional[str] = None,
        valid_from: Optional[datetime] = None,
        valid_to: Optional[datetime] = None,
    ) -> m.Memory:
        """Corrects a memory in place (fields not given stay); a change in
        the world is :meth:`new_version` instead."""
        body = _body(
            content=content, labels=labels, metadata=metadata, importance=importance,
            kind=kind, valid_from=valid_from, valid_to=valid_to,
        )  # fmt: skip
        return self._c._send(
            Request("PATCH", f"/v1/memories/{id}", json=body, parse=_of(m.Memory))
        )

    def delete(self, id: str) -> None:
        return self._c._send(Request("DELETE", f"/v1/memories/{id}"))

    def delete_where(
        self,
        *,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        session_id: Optional[str] = None,
    ) -> int:
        """Deletes every memory of a user, agent or session (at least one
        is required); returns how many."""
        params = {"user_id": user_id, "agent_id": agent_id, "session_id": session_id}
        return self._c._send(
            Request("DELETE", "/v1/memories", params=params, parse=lambda d: d["deleted"])
        )

    def list(
        self,
        *,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        session_id: Optional[str] = None,
        label: Optional[str] = None,
        kind: Optional[str] = None,
        after: Optional[datetime] = None,
        before: Optional[datetime] = None,
        as_of: Optional[datetime] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> m.Page:
        """One page, newest first; :meth:`iter` walks them all."""
        params = dict(
            user_id=user_id, agent_id=agent_id, session_id=session_id, label=label,
            kind=kind, after=after, before=before, as_of=as_of, limit=limit, cursor=cursor,
        )  # fmt: skip
        return self._c._send(
            Request("GET", "/v1/memories", params=params, parse=_page(m.Memory))
        )

    def iter(self, *, page_size: int = 100, **filters: Any) -> Iterator[m.Memory]:
        """Every memory under ``filters`` (those of :meth:`list`), page by
        page, newest first."""
        return self._c._pages(
            Request("GET", "/v1/memories", params={**filters, "limit": page_size},
                    parse=_page(m.Memory))
        )  # fmt: skip

    def new_version(
        self,
        id: str,
        content: str,
        *,
        valid_from: Optional[datetime] = None,
        sources: Optional[List[str]] = None,
        importance: Optional[float] = None,
    ) -> m.Memory:
        """Records that the fact changed; the old state stays in its history."""
        body = _body(content=content, valid_from=valid_from, sources=sources, importance=importance)
        return self._c._send(
            Request("POST", f"/v1/memories/{id}/versions", json=body, parse=_of(m.Memory))
        )

    def history(self, id: str) -> m.History:
        return self._c._send(
            Request("GET", f"/v1/memories/{id}/history", parse=_of(m.History))
        )

    def reembed(self, ids: List[str]) -> m.Job:
        """Queues computing these memories' vectors again; follow the job
        with ``jobs.get``."""
        return self._c._send(
            Request("POST", "/v1/memories/reembed", json={"ids": ids}, parse=_of(m.Job))
        )


class Conversations(_Resource):
    """``/v1/conversations``: threads of messages, each message a memory."""

    def create(
        self,
        title: str,
        *,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        label: Optional[str] = None,
        metadata: Optional[Json] = None,
    ) -> m.Conversation:
        body = _body(title=title, user_id=user_id, agent_id=agent_id, label=label, metadata=metadata)
        return self._c._send(
            Request("POST", "/v1/conversations", json=body, parse=_of(m.Conversation))
        )

    def get(self, id: str) -> m.Conversation:
        return self._c._send(
            Request("GET", f"/v1/conversations/{id}", parse=_of(m.Conversation))
        )

    def update(
        self,
        id: str,
        *,
        title: Optional[str] = None,
        label: Optional[str] = None,
        folder: Optional[str] = None,
        importance: Optional[int] = None,
        pinned: Optional[bool] = None,
        archived: Optional[bool] = None,
        metadata: Optional[Json] = None,
    ) -> m.Conversation:
        body = _body(
            title=title, label=label, folder=folder, importance=importance,
            pinned=pinned, archived=archived, metadata=metadata,
        )  # fmt: skip
        return self._c._send(
            Request("PATCH", f"/v1/conversations/{id}", json=body, parse=_of(m.Conversation))
        )

    def delete(self, id: str) -> None:
        return self._c._send(Request("DELETE", f"/v1/conversations/{id}"))

    def list(
        self,
        *,
        label: Optional[str] = None,
        folder: Optional[str] = None,
        pinned: Optional[bool] = None,
        archived: Optional[bool] = None,
        user_id: Optional[str] = None,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> m.Page:
        params = dict(
            label=label, folder=folder, pinned=pinned, archived=archived,
            user_id=user_id, q=q, limit=limit, cursor=cursor,
        )  # fmt: skip
        return self._c._send(
            Request("GET", "/v1/conversations", params=params, parse=_page(m.Conversation))
        )

    def iter(self, *, page_size: int = 100, **filters: Any) -> Iterator[m.Conversation]:
        """Every conversation under ``filters`` (those of :meth:`list`)."""
        return self._c._pages(
            Request("GET", "/v1/conversations", params={**filters, "limit": page_size},
                    parse=_page(m.Conversation))
        )  # fmt: skip

    def append(
        self,
        id: str,
        role: str,
        content: str,
        *,
        occurred_at: Optional[datetime] = None,
        metadata: Optional[Json] = None,
        idempotency_key: Optional[str] = None,
    ) -> m.Message:
        """Appends one message (``user``, ``assistant``, ``system`` or ``tool``)."""
        body = _body(role=role, content=content, occurred_at=occurred_at, metadata=metadata)
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._c._send(
            Request("POST", f"/v1/conversations/{id}/messages", json=body, headers=headers,
                    parse=_of(m.Message))
        )  # fmt: skip

    def append_batch(
        self, id: str, messages: Sequence[Json], *, idempotency_key: Optional[str] = None
    ) -> List[m.Message]:
        """Appends up to 1000 messages (``{"role", "content", ...}``), all or none."""
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._c._send(
            Request("POST", f"/v1/conversations/{id}/messages/batch",
                    json={"items": [encode(x) for x in messages]}, headers=headers,
                    parse=_items(m.Message))
        )  # fmt: skip

    def messages(
        self, id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> m.Page:
        """One page of messages, oldest first."""
        return self._c._send(
            Request("GET", f"/v1/conversations/{id}/messages",
                    params={"limit": limit, "cursor": cursor}, parse=_page(m.Message))
        )  # fmt: skip

    def iter_messages(self, id: str, *, page_size: int = 100) -> Iterator[m.Message]:
        return self._c._pages(
            Request("GET", f"/v1/conversations/{id}/messages", params={"limit": page_size},
                    parse=_page(m.Message))
        )  # fmt: skip

    def export(self, id: str, *, format: str = "json") -> Any:
        """The whole conversation: a dict for ``json``, text for ``markdown``."""
        return self._c._send(
            Request("GET", f"/v1/conversations/{id}/export", params={"format": format},
                    parse=lambda d: d, raw=format == "markdown")
        )  # fmt: skip

    def search(
        self,
        query: str,
        *,
        limit: Optional[int] = None,
        mode: Optional[str] = None,
        conversation_id: Optional[str] = None,
        folder: Optional[str] = None,
        label: Optional[str] = None,
        include_archived: Optional[bool] = None,
    ) -> m.SearchResponse:
        body = _body(
            query=query, limit=limit, mode=mode, conversation_id=conversation_id,
            folder=folder, label=label, include_archived=include_archived,
        )  # fmt: skip
        return self._c._send(
            Request("POST", "/v1/conversations/search", json=body, parse=_of(m.SearchResponse))
        )


class Imports(_Resource):
    """``/v1/import``: ChatGPT, Claude or JSON-lines exports, as a job."""

    def start(
        self,
        data: bytes,
        *,
        format: str,
        folder: Optional[str] = None,
        label: Optional[str] = None,
    ) -> m.ImportJob:
        """Uploads an export (the file's bytes); :meth:`get` follows the job.
        Importing the same file again writes nothing new."""
        return self._c._send(
            Request("POST", "/v1/import", content=data,
                    params={"format": format, "folder": folder, "label": label},
                    headers={"Content-Type": "application/octet-stream"},
                    parse=_of(m.ImportJob))
        )  # fmt: skip

    def get(self, id: str) -> m.ImportJob:
        return self._c._send(Request("GET", f"/v1/import/{id}", parse=_of(m.ImportJob)))


class Jobs(_Resource):
    def get(self, id: str) -> m.Job:
        return self._c._send(Request("GET", f"/v1/jobs/{id}", parse=_of(m.Job)))


class Tenants(_Resource):
    """Tenants (admin key)."""

    def create(self, name: str) -> m.Tenant:
        return self._c._send(
            Request("POST", "/v1/tenants", json={"name": name}, parse=_of(m.Tenant))
        )

    def list(self) -> List[m.Tenant]:
        return self._c._send(Request("GET", "/v1/tenants", parse=_items(m.Tenant)))

    def delete(self, id: str) -> None:
        """Deletes the tenant and erases every memory of it."""
        return self._c._send(Request("DELETE", f"/v1/tenants/{id}"))


class Keys(_Resource):
    """Tenant keys (admin key)."""

    def create(self, tenant_id: str, name: str, scopes: Sequence[str] = ("read", "write")) -> m.Key:
        """A new key; its secret (``key``) is shown this once."""
        return self._c._send(
            Request("POST", f"/v1/tenants/{tenant_id}/keys",
                    json={"name": name, "scopes": list(scopes)}, parse=_of(m.Key))
        )  # fmt: skip

    def list(self, tenant_id: str) -> List[m.Key]:
        return self._c._send(Request("GET", f"/v1/tenants/{tenant_id}/keys", parse=_items(m.Key)))

    def revoke(self, tenant_id: str, key_id: str) -> None:
        """The key stops working at once."""
        return self._c._send(Request("DELETE", f"/v1/tenants/{tenant_id}/keys/{key_id}"))


class Budgets(_Resource):
    """Per-tenant and per-project budgets (admin key; docs/BUDGETS.md)."""

    def set(
        self,
        tenant_id: str,
        *,
        metric: str,
        period: str,
        limit: float,
        hard: bool = False,
        project: Optional[str] = None,
    ) -> m.Budget:
        body = _body(metric=metric, period=period, limit=limit, hard=hard, project=project)
        return self._c._send(
            Request("PUT", f"/v1/tenants/{tenant_id}/budgets", json=body, parse=_of(m.Budget))
        )

    def list(self, tenant_id: str) -> List[m.Budget]:
        return self._c._send(
            Request("GET", f"/v1/tenants/{tenant_id}/budgets", parse=_items(m.Budget))
        )

    def delete(
        self, tenant_id: str, *, metric: str, period: str, project: Optional[str] = None
    ) -> None:
        params = {"metric": metric, "period": period, "project": project}
        return self._c._send(Request("DELETE", f"/v1/tenants/{tenant_id}/budgets", params=params))


class Admin:
    """What the admin key may do: tenants, their keys and budgets."""

    def __init__(self, client: "Api") -> None:
        self.tenants = Tenants(client)
        self.keys = Keys(client)
        self.budgets = Budgets(client)


class Api:
    """The tenant-level calls shared by both clients."""

    _send: Any
    _pages: Any

    def _init_resources(self) -> None:
        self.memories = Memories(self)
        self.conversations = Conversations(self)
        self.imports = Imports(self)
        self.jobs = Jobs(self)
        self.admin = Admin(self)

    def search(
        self,
        query: str,
        *,
        limit: Optional[int] = None,
        mode: Optional[str] = None,
        filters: FiltersArg = None,
        as_of: Optional[datetime] = None,
        include_archived: Optional[bool] = None,
        embedding: Optional[List[float]] = None,
    ) -> m.SearchResponse:
        """Hybrid search (``mode="vector"`` or ``"keyword"`` for one side), best first."""
        body = _body(
            query=query, limit=limit, mode=mode, filters=_filters(filters), as_of=as_of,
            include_archived=include_archived, embedding=embedding,
        )  # fmt: skip
        return self._send(Request("POST", "/v1/search", json=body, parse=_of(m.SearchResponse)))

    def context(
        self,
        query: str,
        *,
        token_budget: Optional[int] = None,
        filters: FiltersArg = None,
        as_of: Optional[datetime] = None,
        lead_with_summary: Optional[bool] = None,
        include_archived: Optional[bool] = None,
    ) -> m.Context:
        """A prompt-ready block of the memories that matter for ``query``,
        never over ``token_budget`` tokens, citing each."""
        body = _body(
            query=query, token_budget=token_budget, filters=_filters(filters), as_of=as_of,
            lead_with_summary=lead_with_summary, include_archived=include_archived,
        )  # fmt: skip
        return self._send(Request("POST", "/v1/context", json=body, parse=_of(m.Context)))

    def answer(
        self,
        query: str,
        *,
        token_budget: Optional[int] = None,
        filters: FiltersArg = None,
        max_tokens: Optional[int] = None,
        project: Optional[str] = None,
    ) -> m.Answer:
        """An answer written by the server's LLM from the memories (409
        ``llm_not_configured`` without one)."""
        body = _body(
            query=query, token_budget=token_budget, filters=_filters(filters), max_tokens=max_tokens
        )
        return self._send(
            Request("POST", "/v1/answer", json=body, headers=_project(project), parse=_of(m.Answer))
        )

    def summarize(
        self,
        *,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        period: Optional[str] = None,
        at: Optional[datetime] = None,
        project: Optional[str] = None,
    ) -> m.Job:
        """Queues a session summary (``session_id``) or a roll-up
        (``user_id`` and ``period``); needs an LLM."""
        body = _body(session_id=session_id, user_id=user_id, agent_id=agent_id, period=period, at=at)
        return self._send(
            Request("POST", "/v1/summaries", json=body, headers=_project(project), parse=_of(m.Job))
        )

    def reflect(
        self, user_id: str, *, agent_id: Optional[str] = None, project: Optional[str] = None
    ) -> m.Job:
        """Queues insights across the user's latest memories; needs an LLM."""
        body = _body(user_id=user_id, agent_id=agent_id)
        return self._send(
            Request("POST", "/v1/reflections", json=body, headers=_project(project), parse=_of(m.Job))
        )

    def folders(self) -> List[m.Folder]:
        return self._send(Request("GET", "/v1/folders", parse=_items(m.Folder, "folders")))

    def usage(
        self,
        *,
        from_: Optional[datetime] = None,
        to: Optional[datetime] = None,
        group_by: Optional[str] = None,
    ) -> m.Usage:
        """This tenant's LLM and embedding usage by ``day``, ``kind`` or ``project``."""
        params = {"from": from_, "to": to, "group_by": group_by}
        return self._send(Request("GET", "/v1/usage", params=params, parse=_of(m.Usage)))
