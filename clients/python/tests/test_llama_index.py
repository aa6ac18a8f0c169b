"""EngramMemoryBlock inside LlamaIndex's ``Memory``: messages flushed out
of short-term memory go to engram, and the block's content (engram's
context for the latest messages) comes back in the memory's system
message. No LLM is called."""

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import ChatMessage  # noqa: E402
from llama_index.core.memory import Memory  # noqa: E402

from engram_client.adapters.llama_index import EngramMemoryBlock  # noqa: E402


def words(text):
    return text.split()


async def test_flushed_messages_come_back_as_context(client):
    block = EngramMemoryBlock(client=client, user_id="quinn", token_budget=200)
    memory = Memory.from_defaults(
        session_id="q-1",
        token_limit=60,
        chat_history_token_ratio=0.5,
        token_flush_size=10,
        memory_blocks=[block],
        tokenizer_fn=words,
    )
    await memory.aput_messages([
        ChatMessage(role="user", content="My sister Rosa lives in Lisbon and teaches violin."),
        ChatMessage(role="assistant", content="Noted: Rosa, Lisbon, violin teacher."),
    ] + [
        ChatMessage(role="user", content=f"filler message number {i} about nothing much")
        for i in range(6)
    ])  # fmt: skip
    stored = [m.content for m in client.memories.iter(user_id="quinn")]
    assert "My sister Rosa lives in Lisbon and teaches violin." in stored

    await memory.aput(ChatMessage(role="user", content="Where does my sister live?"))
    messages = await memory.aget()
    system = [m for m in messages if m.role.value == "system"]
    assert system and "Lisbon" in system[0].content


async def test_block_is_scoped(client, other):
    await EngramMemoryBlock(client=client, user_id="ray").aput(
        [ChatMessage(role="user", content="Ray's PIN is 2580")]
    )
    assert "2580" in await EngramMemoryBlock(client=client, user_id="ray").aget(
        [ChatMessage(role="user", content="What is Ray's PIN?")]
    )
    assert await EngramMemoryBlock(client=client, user_id="sam").aget(
        [ChatMessage(role="user", content="What is Ray's PIN?")]
    ) == ""
    assert await EngramMemoryBlock(client=other, user_id="ray").aget(
        [ChatMessage(role="user", content="What is Ray's PIN?")]
    ) == ""
