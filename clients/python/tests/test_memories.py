from datetime import datetime, timedelta, timezone

import pytest

from engram_client import BadRequest, Forbidden, NewMemory, NotFound, Memory
from engram_client import EngramClient

from conftest import new_tenant


def test_crud_round_trip(client):
    at = datetime(2023, 5, 1, 12, 0, tzinfo=timezone.utc)
    m = client.memories.add(
        "Ana prefers window seats.", user_id="ana", labels=["travel"],
        metadata={"source": "chat"}, importance=0.8, occurred_at=at, kind="semantic",
    )  # fmt: skip
    assert isinstance(m, Memory)
    assert (m.user_id, m.kind, m.labels, m.metadata) == ("ana", "semantic", ["travel"], {"source": "chat"})
    assert m.occurred_at == at and m.importance == pytest.approx(0.8)

    assert client.memories.get(m.id) == m
    changed = client.memories.update(m.id, content="Ana prefers aisle seats.", labels=["travel", "seat"])
    assert changed.content == "Ana prefers aisle seats." and sorted(changed.labels) == ["seat", "travel"]
    assert changed.metadata == {"source": "chat"}, "fields not given stay"

    client.memories.delete(m.id)
    with pytest.raises(NotFound) as e:
        client.memories.get(m.id)
    assert e.value.status == 404 and e.value.code == "not_found"


def test_idempotency_key_replays_the_first_write(client):
    a = client.memories.add("Bo likes tea.", user_id="bo", idempotency_key="k-1")
    b = client.memories.add("Bo likes tea.", user_id="bo", idempotency_key="k-1")
    assert a.id == b.id
    assert [x.id for x in client.memories.iter(user_id="bo")] == [a.id]


def test_a_retried_batch_writes_once(client):
    items = [{"content": "Lia ordered the blue sofa."}, {"content": "Delivery is on Friday."}]
    first = client.memories.add_batch(items, idempotency_key="batch-1")
    again = client.memories.add_batch(items, idempotency_key="batch-1")
    assert again.ids == first.ids
    assert len(list(client.memories.iter())) == 2


def test_batch_and_pagination_walk_every_page(client):
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    items = [NewMemory(content=f"note {i}", user_id="cy", occurred_at=base + timedelta(minutes=i))
             for i in range(25)]  # fmt: skip
    created = client.memories.add_batch(items)
    assert len(created.ids) == 25

    page = client.memories.list(user_id="cy", limit=10)
    assert len(page.items) == 10 and page.next_cursor
    walked = list(client.memories.iter(user_id="cy", page_size=7))
    assert [m.content for m in walked] == [f"note {i}" for i in reversed(range(25))]
    assert sorted(m.id for m in walked) == sorted(created.ids)


def test_delete_by_scope_deletes_that_user_only(client):
    client.memories.add_batch([{"content": "x1", "user_id": "dan"}, {"content": "x2", "user_id": "dan"}])
    keep = client.memories.add("y", user_id="eve")
    assert client.memories.delete_where(user_id="dan") == 2
    assert [m.id for m in client.memories.iter()] == [keep.id]


def test_versions_and_history(client):
    fact = client.memories.add("Fay lives in Oslo.", user_id="fay", kind="semantic")
    moved = client.memories.new_version(fact.id, "Fay lives in Bergen.")
    assert moved.content == "Fay lives in Bergen." and moved.version == 2
    history = client.memories.history(fact.id)
    assert [v.content for v in history.versions] == ["Fay lives in Oslo.", "Fay lives in Bergen."]


def test_errors_carry_the_problem(client):
    with pytest.raises(BadRequest) as e:
        client.memories.add("   ")
    err = e.value
    assert err.status == 400 and err.field == "content" and err.code
    assert "content" in err.detail and err.body["type"].endswith(err.code)

    with pytest.raises(BadRequest) as e:
        client.memories.add_batch([{"content": "fine"}, {"content": ""}])
    assert e.value.field == "items[1].content"


def test_a_read_key_cannot_write(url, admin, tenant):
    key = admin.admin.keys.create(tenant[0].id, "reader", ["read"]).key
    with EngramClient(url, api_key=key) as reader:
        with pytest.raises(Forbidden) as e:
            reader.memories.add("nope")
        assert e.value.status == 403
        assert list(reader.memories.iter()) == []


def test_tenants_are_a_wall(client, other):
    mine = client.memories.add("Gus's locker code is 4412.", user_id="gus")
    with pytest.raises(NotFound):
        other.memories.get(mine.id)
    with pytest.raises(NotFound):
        other.memories.update(mine.id, content="hijacked")
    with pytest.raises(NotFound):
        other.memories.delete(mine.id)
    assert list(other.memories.iter()) == []
    assert other.search("locker code").results == []
    assert other.memories.delete_where(user_id="gus") == 0
    assert client.memories.get(mine.id).content == "Gus's locker code is 4412."
