"""Drives engram's MCP server with the official Python SDK, as an agent would.

Usage: client.py PLAN_JSON

PLAN_JSON says how to connect and which tools to call:
  {"transport": "http", "url": "...", "key": "egk_..." (optional),
   or "transport": "stdio", "command": "...", "args": [...], "env": {...},
   "mode": "legacy" (initialize handshake) or "auto" (discover first),
   "calls": [{"tool": "add_memory", "arguments": {...}}, ...]}
A string argument "$N.field" is replaced by `field` of call N's structured
result (e.g. the id returned by add_memory).

Prints one JSON object: the negotiated protocol version, the server's name,
the tools listed, and for each call either
{"is_error", "text", "structured"} or {"protocol_error": "..."}.
Connection failures print {"connect_error": "..."} and exit 2. The caller
(tests/mcp.rs) makes every assertion.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def resolve(value, results):
    if isinstance(value, str) and value.startswith("$") and "." in value:
        index, field = value[1:].split(".", 1)
        return results[int(index)]["structured"][field]
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    return value


def server_of(plan):
    if plan["transport"] == "stdio":
        return StdioServerParameters(
            command=plan["command"], args=plan.get("args", []), env=plan.get("env", {})
        )
    headers = {"Authorization": f"Bearer {plan['key']}"} if plan.get("key") else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))
    return streamable_http_client(plan["url"], http_client=http)


async def drive(plan):
    out = {"results": []}
    async with Client(server_of(plan), mode=plan.get("mode", "legacy")) as client:
        out["protocol_version"] = client.protocol_version
        info = client.server_info
        out["server"] = info.model_dump(mode="json", by_alias=True) if info else None
        listed = await client.list_tools()
        out["tools"] = [t.model_dump(mode="json", by_alias=True) for t in listed.tools]
        for call in plan.get("calls", []):
            args = resolve(call.get("arguments"), out["results"])
            try:
                r = await client.call_tool(call["tool"], args)
            except MCPError as e:
                out["results"].append({"protocol_error": str(e)})
                continue
            out["results"].append(
                {
                    "is_error": r.is_error,
                    "text": "\n".join(c.text for c in r.content if c.type == "text"),
                    "structured": r.structured_content,
                }
            )
    return out


def main():
    plan = json.loads(sys.argv[1])
    try:
        out = asyncio.run(drive(plan))
    except BaseException as e:  # noqa: BLE001 - report any failure to connect
        print(json.dumps({"connect_error": f"{type(e).__name__}: {e!r}"}))
        sys.exit(2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
