import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequest, Forbidden, NotFound, EngramClient } from "../dist/index.js";
import { admin, tenant, url } from "./helpers.mjs";

test("CRUD round trip with typed errors", async (t) => {
  const { client, cleanup } = await tenant();
  t.after(cleanup);
  const at = "2023-05-01T12:00:00Z";
  const m = await client.memories.add({
    content: "Ana prefers window seats.", user_id: "ana", labels: ["travel"],
    metadata: { source: "chat" }, importance: 0.8, occurred_at: new Date(at), kind: "semantic",
  });
  assert.equal(m.user_id, "ana");
  assert.equal(new Date(m.occurred_at).toISOString(), new Date(at).toISOString());
  assert.deepEqual(await client.memories.get(m.id), m);

  const changed = await client.memories.update(m.id, { content: "Ana prefers aisle seats." });
  assert.equal(changed.content, "Ana prefers aisle seats.");
  assert.deepEqual(changed.metadata, { source: "chat" });

  await client.memories.delete(m.id);
  await assert.rejects(client.memories.get(m.id), (e) => e instanceof NotFound && e.status === 404 && e.code === "not_found");
});

test("an idempotency key replays the first write", async (t) => {
  const { client, cleanup } = await tenant();
  t.after(cleanup);
  const a = await client.memories.add({ content: "Bo likes tea.", user_id: "bo" }, { idempotencyKey: "k-1" });
  const b = await client.memories.add({ content: "Bo likes tea.", user_id: "bo" }, { idempotencyKey: "k-1" });
  assert.equal(a.id, b.id);
  const items = [{ content: "Lia ordered the blue sofa." }, { content: "Delivery is on Friday." }];
  const first = await client.memories.addBatch(items, { idempotencyKey: "batch-1" });
  const again = await client.memories.addBatch(items, { idempotencyKey: "batch-1" });
  assert.deepEqual(again.ids, first.ids);
  assert.equal((await client.memories.list()).items.length, 3);
});

test("batches and pagination walk every page", async (t) => {
  const { client, cleanup } = await tenant();
  t.after(cleanup);
  const base = Date.parse("2024-01-01T00:00:00Z");
  const items = Array.from({ length: 25 }, (_, i) => ({
    content: `note ${i}`, user_id: "cy", occurred_at: new Date(base + i * 60_000),
  }));
  const created = await client.memories.addBatch(items);
  assert.equal(created.ids.length, 25);
  const page = await client.memories.list({ user_id: "cy", limit: 10 });
  assert.equal(page.items.length, 10);
  assert.ok(page.next_cursor);
  const walked = [];
  for await (const m of client.memories.iter({ user_id: "cy", limit: 7 })) walked.push(m.content);
  assert.deepEqual(walked, items.map((x) => x.content).reverse());
  assert.equal(await client.memories.deleteWhere({ user_id: "cy" }), 25);
});

test("versions and history", async (t) => {
  const { client, cleanup } = await tenant();
  t.after(cleanup);
  const fact = await client.memories.add({ content: "Fay lives in Oslo.", kind: "semantic" });
  const moved = await client.memories.newVersion(fact.id, { content: "Fay lives in Bergen." });
  assert.equal(moved.version, 2);
  const h = await client.memories.history(fact.id);
  assert.deepEqual(h.versions.map((v) => v.content), ["Fay lives in Oslo.", "Fay lives in Bergen."]);
});

test("errors carry the problem's code and field", async (t) => {
  const { client, cleanup } = await tenant();
  t.after(cleanup);
  await assert.rejects(client.memories.addBatch([{ content: "fine" }, { content: "" }]), (e) => {
    assert.ok(e instanceof BadRequest);
    assert.equal(e.status, 400);
    assert.equal(e.field, "items[1].content");
    assert.ok(e.code && e.body.type.endsWith(e.code));
    return true;
  });
});

test("a read key cannot write; tenants are a wall", async (t) => {
  const mine = await tenant();
  const theirs = await tenant();
  t.after(() => Promise.all([mine.cleanup(), theirs.cleanup()]));
  const reader = new EngramClient({
    url: url(), apiKey: (await admin().admin.keys.create(mine.tenant.id, "reader", ["read"])).key,
  });
  await assert.rejects(reader.memories.add({ content: "nope" }), Forbidden);

  const m = await mine.client.memories.add({ content: "Gus's locker code is 4412.", user_id: "gus" });
  await assert.rejects(theirs.client.memories.get(m.id), NotFound);
  await assert.rejects(theirs.client.memories.update(m.id, { content: "hijacked" }), NotFound);
  await assert.rejects(theirs.client.memories.delete(m.id), NotFound);
  assert.deepEqual((await theirs.client.search({ query: "locker code" })).results, []);
  assert.equal(await theirs.client.memories.deleteWhere({ user_id: "gus" }), 0);
  assert.equal((await mine.client.memories.get(m.id)).content, m.content);
});
