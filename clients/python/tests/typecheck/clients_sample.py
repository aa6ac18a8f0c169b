"""Never run: tests/test_typing.py type-checks it with mypy --strict and
compares what mypy says with the trailing comments: ``N:`` then a type
expects ``reveal_type`` to show that type, ``E:`` then an error code
expects that error (the mistakes a user's type checker must catch)."""

from engram_client import AsyncEngramClient, EngramClient, Memory


def blocking(client: EngramClient) -> None:
    memory = client.memories.add("Nia likes teal.", user_id="nia")
    reveal_type(memory)  # N: engram_client.models.Memory
    reveal_type(client.search("colour"))  # N: engram_client.models.SearchResponse
    reveal_type(client.memories.iter(user_id="nia"))  # N: typing.Iterator[engram_client.models.Memory]
    reveal_type(client.admin.tenants.list())  # N: list[engram_client.models.Tenant]
    client.memories.add(42)  # E: arg-type
    client.memories.get(memory.id).no_such_field  # E: attr-defined


async def awaited(client: AsyncEngramClient) -> None:
    memory = await client.memories.add("Nia likes teal.", user_id="nia")
    reveal_type(memory)  # N: engram_client.models.Memory
    reveal_type(await client.context("colour"))  # N: engram_client.models.Context
    reveal_type(await client.admin.keys.create("t", "k"))  # N: engram_client.models.Key
    reveal_type(await client.conversations.append_batch("c", []))  # N: list[engram_client.models.Message]
    async for message in client.conversations.iter_messages("c"):
        reveal_type(message)  # N: engram_client.models.Message
    not_awaited: Memory = client.memories.get(memory.id)  # E: assignment
    client.memories.delete(memory.id)  # E: unused-coroutine
    for _ in client.memories.iter():  # E: attr-defined
        pass
    await client.memories.add(42)  # E: arg-type
