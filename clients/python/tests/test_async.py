import pytest

from engram_client import NotFound


async def test_the_async_client_has_the_same_surface(aclient, other):
    m = await aclient.memories.add("Nia's favourite colour is teal.", user_id="nia")
    assert (await aclient.memories.get(m.id)).content == m.content
    await aclient.memories.add_batch([{"content": f"n{i}", "user_id": "nia"} for i in range(12)])
    seen = [x.id async for x in aclient.memories.iter(user_id="nia", page_size=5)]
    assert len(seen) == 13 and m.id in seen

    found = await aclient.search("favourite colour", filters={"user_id": "nia"})
    assert found.results[0].memory.id == m.id
    ctx = await aclient.context("What colour does Nia like?", filters={"user_id": "nia"})
    assert "teal" in ctx.context

    with pytest.raises(NotFound):
        other.memories.get(m.id)
    assert await aclient.memories.delete_where(user_id="nia") == 13
