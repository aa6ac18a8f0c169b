"""Prepares a fresh engram for scripts/api-fuzz: two tenants, each with a
read+write key and a few memories, so that reads, searches and updates find
real data and not only 404s.

Usage: seed.py BASE_URL ADMIN_KEY OUT_DIR. Writes OUT_DIR/<tenant>.key.
"""

import json
import sys
import urllib.request

TENANTS = {
    "fuzz-a": ["the heron nests by the quiet lake", "Alice prefers green tea in the morning"],
    "fuzz-b": ["the lighthouse keeper logs every storm", "Bob is allergic to peanuts"],
}


def call(base, key, method, path, body):
    req = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


def main():
    base, admin, out = sys.argv[1:4]
    for name, texts in TENANTS.items():
        tenant = call(base, admin, "POST", "/v1/tenants", {"name": name})
        key = call(base, admin, "POST", f"/v1/tenants/{tenant['id']}/keys",
                   {"name": "api-fuzz", "scopes": ["read", "write"]})["key"]
        items = [{"content": t, "user_id": "fuzz-user", "labels": ["fuzz"]} for t in texts]
        call(base, key, "POST", "/v1/memories/batch", {"items": items})
        with open(f"{out}/{name}.key", "w") as f:
            f.write(key)


if __name__ == "__main__":
    main()
