"""A LlamaIndex memory block backed by engram.

``EngramMemoryBlock`` is a :class:`llama_index.core.memory.BaseMemoryBlock`
for ``llama_index.core.memory.Memory``: messages flushed from short-term
memory are written to engram, and each turn the block answers with
engram's context block for the latest messages (the memories that matter
now, within a token budget, citing each), ready for the system prompt.
"""

from __future__ import annotations

import asyncio
from typing import Any, List, Optional

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import BaseMemoryBlock
from pydantic import Field

from ..client import EngramClient
from ..models import NewMemory

LABEL = "llama_index:memory"
# Roles engram knows; LlamaIndex has a few more (chatbot, developer).
ROLES = {"user", "assistant", "system", "tool"}
BATCH = 1000


class EngramMemoryBlock(BaseMemoryBlock[str]):
    """Long-term memory through engram, scoped by ``user_id`` (and
    ``agent_id``, ``session_id`` when set). ``query_messages`` recent
    messages make the query; ``token_budget`` bounds the block."""

    name: str = "engram"
    description: Optional[str] = "Long-term memories from engram"
    client: EngramClient = Field(exclude=True)
    user_id: Optional[str] = None
    agent_id: Optional[str] = None
    session_id: Optional[str] = None
    token_budget: int = 500
    query_messages: int = 2

    def _filters(self) -> dict:
        scope = {"user_id": self.user_id, "agent_id": self.agent_id, "session_id": self.session_id}
        return {k: v for k, v in scope.items() if v is not None}

    async def _aget(self, messages: Optional[List[ChatMessage]] = None, **kwargs: Any) -> str:
        recent = [m.content for m in (messages or [])[-self.query_messages :] if m.content]
        query = "\n".join(recent).strip()
        if not query:
            return ""
        ctx = await asyncio.to_thread(
            self.client.context, query, token_budget=self.token_budget, filters=self._filters()
        )
        return ctx.context

    async def _aput(self, messages: List[ChatMessage]) -> None:
        items = [
            NewMemory(
                content=m.content,
                role=m.role.value if m.role.value in ROLES else "user",
                labels=[LABEL],
                session_id=m.additional_kwargs.get("session_id", self.session_id),
                **{k: v for k, v in self._filters().items() if k != "session_id"},
            )
            for m in messages
            if m.content and m.content.strip()
        ]
        for i in range(0, len(items), BATCH):
            await asyncio.to_thread(self.client.memories.add_batch, items[i : i + BATCH])
