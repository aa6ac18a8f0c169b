"""A LangChain chat history backed by engram.

``EngramChatMessageHistory`` is a
:class:`langchain_core.chat_history.BaseChatMessageHistory`: each message
is a memory of the session (``session_id``), so the chat is both replayed
in order to the model and searchable by engram later (its search and
context find what was said, across sessions of the user).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Sequence

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from ..client import EngramClient
from ..models import Memory, NewMemory

META = "langchain"
LABEL = "langchain:chat"
# LangChain's message types under engram's roles.
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
BATCH = 1000


class EngramChatMessageHistory(BaseChatMessageHistory):
    """The messages of one session, oldest first.

    ``clear`` deletes this history's messages only, not other memories of
    the session. Messages keep their order through ``occurred_at``, spaced
    a microsecond apart within a call.
    """

    def __init__(
        self,
        client: EngramClient,
        session_id: str,
        *,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.user_id = user_id
        self.agent_id = agent_id

    def _memories(self) -> List[Memory]:
        found = self.client.memories.iter(session_id=self.session_id, label=LABEL, page_size=1000)
        # Listed newest first; ids break ties of equal times the same way
        # on every read.
        return sorted(found, key=lambda m: (m.occurred_at, m.id))

    @property
    def messages(self) -> List[BaseMessage]:  # type: ignore[override]
        out = []
        for mem in self._memories():
            stored = mem.metadata[META]
            data = dict(stored["data"])
            data["content"] = json.loads(mem.content) if stored.get("json") else mem.content
            out.append({"type": stored["type"], "data": data})
        return messages_from_dict(out)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        start = datetime.now(timezone.utc)
        items = [self._item(msg, start + timedelta(microseconds=i)) for i, msg in enumerate(messages)]
        for i in range(0, len(items), BATCH):
            self.client.memories.add_batch(items[i : i + BATCH])

    def _item(self, msg: BaseMessage, at: datetime) -> NewMemory:
        d = message_to_dict(msg)
        content = d["data"].pop("content")
        # engram stores text; list contents (images, tool parts) go as JSON.
        as_json = not isinstance(content, str) or not content.strip()
        return NewMemory(
            content=json.dumps(content) if as_json else content,
            role=ROLES.get(d["type"], "user"),
            session_id=self.session_id,
            user_id=self.user_id,
            agent_id=self.agent_id,
            labels=[LABEL],
            occurred_at=at,
            metadata={META: {"type": d["type"], "data": d["data"], "json": as_json}},
        )

    def clear(self) -> None:
        for mem in self._memories():
            self.client.memories.delete(mem.id)
