import pytest

from engram_client import EngramClient, Forbidden, NotFound, Unauthorized

from conftest import new_tenant


def test_tenants_keys_and_revocation(url, admin):
    tenant, secret = new_tenant(admin)
    try:
        assert tenant.id in {t.id for t in admin.admin.tenants.list()}
        keys = admin.admin.keys.list(tenant.id)
        assert [k.scopes for k in keys] == [["read", "write"]]
        assert all(k.key is None for k in keys), "secrets are shown once, at creation"

        with EngramClient(url, api_key=secret) as c:
            c.memories.add("Max is allergic to peanuts.")
            admin.admin.keys.revoke(tenant.id, keys[0].id)
            with pytest.raises(Unauthorized) as e:
                c.memories.add("after revocation")
            assert e.value.status == 401
    finally:
        admin.admin.tenants.delete(tenant.id)
    assert tenant.id not in {t.id for t in admin.admin.tenants.list()}


def test_a_tenant_key_cannot_administer(client):
    with pytest.raises((Forbidden, Unauthorized)):
        client.admin.tenants.list()


def test_budgets(admin, tenant):
    b = admin.admin.budgets.set(tenant[0].id, metric="tokens", period="day", limit=1000, hard=True)
    assert (b.metric, b.period, b.limit, b.hard) == ("tokens", "day", 1000, True)
    assert [x.limit for x in admin.admin.budgets.list(tenant[0].id)] == [1000]
    admin.admin.budgets.delete(tenant[0].id, metric="tokens", period="day")
    assert admin.admin.budgets.list(tenant[0].id) == []


def test_an_unknown_tenant_is_not_found(admin):
    with pytest.raises(NotFound):
        admin.admin.keys.create("no-such-tenant", "k")
