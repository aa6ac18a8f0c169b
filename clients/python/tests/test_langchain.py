"""EngramChatMessageHistory as LangChain uses a BaseChatMessageHistory:
``add_messages``/``messages``/``clear`` and their async forms, and under
``RunnableWithMessageHistory``."""

import pytest

pytest.importorskip("langchain_core")

from langchain_core.chat_history import BaseChatMessageHistory  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage  # noqa: E402
from langchain_core.runnables import RunnableLambda  # noqa: E402
from langchain_core.runnables.history import RunnableWithMessageHistory  # noqa: E402

from engram_client.adapters.langchain import EngramChatMessageHistory  # noqa: E402


def test_round_trip_keeps_order_and_types(client):
    h = EngramChatMessageHistory(client, "s-1", user_id="pia")
    assert isinstance(h, BaseChatMessageHistory) and h.messages == []
    sent = [
        SystemMessage("You are terse."),
        HumanMessage("Hi, I'm Pia.", id="h1"),
        AIMessage("Hello Pia.", additional_kwargs={"x": 1}),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {"q": "pia"}, "id": "call-1"}]),
        ToolMessage("found nothing", tool_call_id="call-1"),
    ]
    h.add_messages(sent[:2])
    h.add_messages(sent[2:])
    got = h.messages
    assert [type(m) for m in got] == [type(m) for m in sent]
    assert [m.content for m in got] == [m.content for m in sent]
    assert got[1].id == "h1" and got[2].additional_kwargs == {"x": 1}
    assert got[3].tool_calls[0]["name"] == "lookup" and got[4].tool_call_id == "call-1"

    # The messages are memories of the session, found by engram's search.
    found = client.search("who is Pia?", filters={"session_id": "s-1"})
    assert found.results


def test_clear_deletes_this_history_only(client):
    other_memory = client.memories.add("a note of the same session", session_id="s-2")
    h = EngramChatMessageHistory(client, "s-2")
    h.add_user_message("one")
    h.add_ai_message("two")
    assert EngramChatMessageHistory(client, "s-3").messages == []
    h.clear()
    assert h.messages == []
    assert client.memories.get(other_memory.id).content == "a note of the same session"


def test_with_runnable_with_message_history(client):
    def reply(messages):
        return AIMessage(f"you said {len(messages)} things")

    chain = RunnableWithMessageHistory(
        RunnableLambda(reply), lambda sid: EngramChatMessageHistory(client, sid)
    )
    cfg = {"configurable": {"session_id": "s-4"}}
    assert chain.invoke([HumanMessage("a")], cfg).content == "you said 1 things"
    assert chain.invoke([HumanMessage("b")], cfg).content == "you said 3 things"
    assert [m.content for m in EngramChatMessageHistory(client, "s-4").messages] == [
        "a", "you said 1 things", "b", "you said 3 things",
    ]  # fmt: skip


async def test_async_forms(client):
    h = EngramChatMessageHistory(client, "s-5")
    await h.aadd_messages([HumanMessage("async hi")])
    assert [m.content for m in await h.aget_messages()] == ["async hi"]
    await h.aclear()
    assert await h.aget_messages() == []


def test_cross_tenant(client, other):
    EngramChatMessageHistory(client, "shared-id").add_user_message("private")
    assert EngramChatMessageHistory(other, "shared-id").messages == []
