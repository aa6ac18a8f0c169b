"""EngramStore through LangGraph's own BaseStore API (get, put, search,
delete, list_namespaces and their async forms), the calls a LangGraph
agent makes on ``store``."""

import pytest

pytest.importorskip("langgraph")

from langgraph.store.base import BaseStore, Item, SearchItem  # noqa: E402

from engram_client.adapters.langgraph import EngramStore  # noqa: E402


@pytest.fixture
def store(client) -> EngramStore:
    return EngramStore(client, user_id="ola")


def test_is_a_langgraph_store(store):
    assert isinstance(store, BaseStore)


def test_put_get_update_delete(store):
    ns = ("users", "ola", "prefs")
    assert store.get(ns, "food") is None
    store.put(ns, "food", {"text": "Ola is vegetarian", "since": 2019})
    item = store.get(ns, "food")
    assert isinstance(item, Item)
    assert (item.namespace, item.key, item.value) == (ns, "food", {"text": "Ola is vegetarian", "since": 2019})

    store.put(ns, "food", {"text": "Ola is vegan", "since": 2022})
    again = store.get(ns, "food")
    assert again.value["text"] == "Ola is vegan"
    assert again.created_at == item.created_at and again.updated_at >= item.updated_at

    store.delete(ns, "food")
    assert store.get(ns, "food") is None
    # Same key, another namespace: a different item.
    store.put(("users", "ola", "other"), "food", {"text": "x"})
    assert store.get(ns, "food") is None


def test_search_by_prefix_filter_and_query(store):
    store.put(("docs", "a"), "1", {"text": "The oven must be preheated to 220 degrees", "kind": "recipe"})
    store.put(("docs", "a"), "2", {"text": "Invoices are due within 30 days", "kind": "policy"})
    store.put(("docs", "b"), "3", {"text": "Bread needs a hot oven and steam", "kind": "recipe"})
    store.put(("notes",), "4", {"text": "Buy flour", "kind": "todo"})

    under_docs = store.search(("docs",))
    assert sorted(i.key for i in under_docs) == ["1", "2", "3"]
    assert all(isinstance(i, SearchItem) for i in under_docs)
    assert sorted(i.key for i in store.search(("docs", "a"))) == ["1", "2"]
    assert sorted(i.key for i in store.search(("docs",), filter={"kind": "recipe"})) == ["1", "3"]
    assert sorted(i.key for i in store.search((), filter={"kind": {"$ne": "recipe"}})) == ["2", "4"]

    ranked = store.search(("docs",), query="how hot should the oven be?", limit=2)
    assert [i.key for i in ranked][0] in {"1", "3"} and len(ranked) == 2
    assert ranked[0].score is not None and ranked[0].score >= ranked[1].score
    assert len(store.search(("docs",), limit=1, offset=1)) == 1


def test_list_namespaces(store):
    for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "x"), ("z",)]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces() == [("a", "b", "c"), ("a", "b", "d"), ("a", "x"), ("z",)]
    assert store.list_namespaces(prefix=("a", "b")) == [("a", "b", "c"), ("a", "b", "d")]
    assert store.list_namespaces(suffix=("d",)) == [("a", "b", "d")]
    assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "x"), ("z",)]
    assert store.list_namespaces(prefix=("a", "*")) == [("a", "b", "c"), ("a", "b", "d"), ("a", "x")]


def test_items_are_memories_engram_finds(store, client):
    store.put(("memories", "ola"), "pet", {"text": "Ola has a parrot called Kiwi"})
    found = client.search("What pet does Ola have?", filters={"user_id": "ola"})
    assert found.results[0].memory.content == "Ola has a parrot called Kiwi" or (
        "Kiwi" in found.results[0].memory.content
    )


def test_stores_with_other_prefixes_do_not_see_each_other(client):
    a = EngramStore(client, prefix="agent-a")
    b = EngramStore(client, prefix="agent-b")
    a.put(("ns",), "k", {"v": "a"})
    assert b.get(("ns",), "k") is None and b.search(("ns",)) == []
    assert b.list_namespaces() == []


def test_cross_tenant(store, other):
    store.put(("secret",), "k", {"text": "the vault code is 9931"})
    theirs = EngramStore(other, user_id="ola")
    assert theirs.get(("secret",), "k") is None
    assert theirs.search(("secret",), query="vault code") == []


async def test_async_forms(store):
    await store.aput(("async",), "k", {"text": "async works"})
    item = await store.aget(("async",), "k")
    assert item.value == {"text": "async works"}
    assert [i.key for i in await store.asearch(("async",))] == ["k"]
    assert await store.alist_namespaces() == [("async",)]
    await store.adelete(("async",), "k")
    assert await store.aget(("async",), "k") is None
