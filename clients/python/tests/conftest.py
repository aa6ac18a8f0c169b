"""The tests run against a real engram server: crates/engram/tests/sdk_python.rs
starts the binary and sets ENGRAM_URL and ENGRAM_ADMIN_KEY (and
ENGRAM_LIMITED_URL, a second server with a rate limit of about one request
a second). Each test gets a fresh tenant, so tests share nothing."""

from __future__ import annotations

import os
import uuid

import pytest

from engram_client import AsyncEngramClient, EngramClient


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(
            f"{name} is not set: run these tests through "
            "`cargo test -p engram --test sdk_python`, which starts the server",
            returncode=2,
        )
    return value


@pytest.fixture(scope="session")
def url() -> str:
    return _env("ENGRAM_URL")


@pytest.fixture(scope="session")
def admin(url: str):
    with EngramClient(url, api_key=_env("ENGRAM_ADMIN_KEY")) as c:
        yield c


def new_tenant(admin: EngramClient, scopes=("read", "write")):
    tenant = admin.admin.tenants.create(f"sdk-{uuid.uuid4().hex[:8]}")
    key = admin.admin.keys.create(tenant.id, "sdk test", scopes)
    return tenant, key.key


@pytest.fixture
def tenant(admin: EngramClient):
    t, key = new_tenant(admin)
    yield t, key
    admin.admin.tenants.delete(t.id)


@pytest.fixture
def client(url: str, tenant):
    with EngramClient(url, api_key=tenant[1]) as c:
        yield c


@pytest.fixture
async def aclient(url: str, tenant):
    async with AsyncEngramClient(url, api_key=tenant[1]) as c:
        yield c


@pytest.fixture
def other(url: str, admin: EngramClient):
    """A client of a second tenant, for the cross-tenant checks."""
    t, key = new_tenant(admin)
    with EngramClient(url, api_key=key) as c:
        yield c
    admin.admin.tenants.delete(t.id)
