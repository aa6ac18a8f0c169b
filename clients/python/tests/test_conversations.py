import json
import time

import pytest

from engram_client import NotFound


def test_conversation_lifecycle(client):
    conv = client.conversations.create("Trip planning", user_id="lea", label="travel")
    first = client.conversations.append(conv.id, "user", "Book a hotel near the Louvre.")
    rest = client.conversations.append_batch(conv.id, [
        {"role": "assistant", "content": "Hotel du Louvre has rooms in May."},
        {"role": "user", "content": "Great, two nights please."},
    ])  # fmt: skip
    assert first.conversation_id == conv.id and len(rest) == 2

    walked = list(client.conversations.iter_messages(conv.id, page_size=2))
    assert [m.content for m in walked] == [
        "Book a hotel near the Louvre.",
        "Hotel du Louvre has rooms in May.",
        "Great, two nights please.",
    ]
    # Every message is a memory.
    assert client.memories.get(first.id).content == first.content

    moved = client.conversations.update(conv.id, folder="personal/travel", pinned=True)
    assert moved.folder == "personal/travel" and moved.pinned
    assert [c.id for c in client.conversations.iter(folder="personal")] == [conv.id]
    assert {f.path for f in client.folders()} >= {"personal", "personal/travel"}

    found = client.conversations.search("hotel rooms", conversation_id=conv.id)
    assert found.results[0].memory.session_id == conv.id

    exported = client.conversations.export(conv.id)
    assert exported["conversation"]["id"] == conv.id
    assert "Louvre" in client.conversations.export(conv.id, format="markdown")

    client.conversations.delete(conv.id)
    with pytest.raises(NotFound):
        client.conversations.get(conv.id)


def test_an_export_imports_into_another_tenant_as_a_job(client, other):
    conv = client.conversations.create("Garden")
    # Distinct times: an import orders messages by time, and messages
    # appended in one batch share theirs.
    client.conversations.append_batch(conv.id, [
        {"role": "user", "content": "When do I plant tulips?", "occurred_at": "2024-03-01T10:00:00Z"},
        {"role": "assistant", "content": "In autumn, before the frost.",
         "occurred_at": "2024-03-01T10:00:05Z"},
    ])  # fmt: skip
    line = json.dumps(client.conversations.export(conv.id)).encode()

    job = other.imports.start(line, format="jsonl", folder="imports")
    deadline = time.monotonic() + 30
    while job.status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = other.imports.get(job.id)
    assert job.status == "done", job
    assert (job.conversations, job.messages) == (1, 2)
    copied = list(other.conversations.iter(folder="imports"))
    assert [c.title for c in copied] == ["Garden"]
    assert [m.content for m in other.conversations.iter_messages(copied[0].id)] == [
        "When do I plant tulips?",
        "In autumn, before the frost.",
    ]
    # The job is the importing tenant's alone.
    with pytest.raises(NotFound):
        client.imports.get(job.id)
