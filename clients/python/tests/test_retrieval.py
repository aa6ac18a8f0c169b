import pytest

from engram_client import Conflict, EngramClient, Filters


def test_the_readme_quickstart(url, tenant):
    # The five lines of README.md, as a new user runs them.
    from engram_client import EngramClient

    engram = EngramClient(url, api_key=tenant[1])
    engram.memories.add("Alice works as a baker at the Acme bakery.", user_id="alice")
    print(engram.context("Where does Alice work?", filters={"user_id": "alice"}).context)

    ctx = engram.context("Where does Alice work?", filters={"user_id": "alice"})
    assert "Acme bakery" in ctx.context and ctx.tokens > 0
    assert ctx.items[0].content == "Alice works as a baker at the Acme bakery."
    engram.close()


def test_search_ranks_and_filters(client):
    client.memories.add_batch([
        {"content": "Hal's cat is named Miso.", "user_id": "hal"},
        {"content": "Hal drives a blue Volvo.", "user_id": "hal"},
        {"content": "Ivy's cat is named Pepper.", "user_id": "ivy"},
    ])  # fmt: skip
    found = client.search("what is the cat called?", filters=Filters(user_id="hal"), limit=5)
    assert found.results[0].memory.content == "Hal's cat is named Miso."
    assert all(r.memory.user_id == "hal" for r in found.results)
    assert found.results[0].score >= found.results[-1].score

    keyword = client.search("Volvo", mode="keyword", filters={"user_id": "hal"})
    assert [r.memory.content for r in keyword.results] == ["Hal drives a blue Volvo."]


def test_context_respects_the_budget(client):
    client.memories.add_batch([{"content": f"Jo visited city number {i} in spring.", "user_id": "jo"}
                               for i in range(40)])  # fmt: skip
    ctx = client.context("Where did Jo travel?", token_budget=60, filters={"user_id": "jo"})
    assert 0 < ctx.tokens <= 60 and ctx.items


def test_answer_without_an_llm_is_a_clear_conflict(client):
    with pytest.raises(Conflict) as e:
        client.answer("anything?")
    assert e.value.code == "llm_not_configured"


def test_usage_reports_this_tenant(client):
    client.memories.add("Kim plays chess.")
    report = client.usage(group_by="kind")
    assert report.group_by == "kind"
    assert all(i.calls >= 1 for i in report.items)
