"""Against the second server, whose rate limit is about one request a
second with a burst of one: the client waits as ``Retry-After`` says."""

import os

import pytest

from engram_client import EngramClient, RateLimited, RetryPolicy

from conftest import new_tenant


@pytest.fixture
def limited():
    url = os.environ["ENGRAM_LIMITED_URL"]
    with EngramClient(url, api_key=os.environ["ENGRAM_ADMIN_KEY"]) as admin:
        tenant, key = new_tenant(admin)
    return url, key


def test_429_is_retried_after_retry_after(limited):
    url, key = limited
    with EngramClient(url, api_key=key, retry=RetryPolicy(max_retries=5)) as c:
        ids = [c.memories.add(f"note {i}").id for i in range(3)]
    with EngramClient(url, api_key=key, retry=RetryPolicy(max_retries=5)) as c:
        assert sorted(m.id for m in c.memories.iter()) == sorted(ids)


def test_without_retries_the_429_surfaces_with_retry_after(limited):
    url, key = limited
    with EngramClient(url, api_key=key, retry=RetryPolicy(max_retries=0)) as c:
        with pytest.raises(RateLimited) as e:
            for _ in range(5):
                c.memories.list()
    assert e.value.status == 429 and e.value.retry_after and e.value.retry_after > 0
    assert e.value.code
