import assert from "node:assert/strict";
import { test } from "node:test";
import { Conflict, NotFound, RateLimited, EngramClient } from "../dist/index.js";
import { admin, env, tenant } from "./helpers.mjs";

test("the README quickstart", async (t) => {
  const { key, cleanup } = await tenant();
  t.after(cleanup);
  // The five lines of README.md.
  const engram = new EngramClient({ url: env("ENGRAM_URL"), apiKey: key });
  await engram.memories.add({ content: "Alice works as a baker at the Acme bakery.", user_id: "alice" });
  const { context } = await engram.context({ query: "Where does Alice work?", filters: { user_id: "alice" } });
  console.log(context);
  assert.match(context, /Acme bakery/);
});

test("search ranks and filters; context keeps to the budget", async (t) => {
  const { client, cleanup } = await tenant();
  t.after(cleanup);
  await client.memories.addBatch([
    { content: "Hal's cat is named Miso.", user_id: "hal" },
    { content: "Hal drives a blue Volvo.", user_id: "hal" },
    { content: "Ivy's cat is named Pepper.", user_id: "ivy" },
  ]);
  const found = await client.search({ query: "what is the cat called?", filters: { user_id: "hal" }, limit: 5 });
  assert.equal(found.results[0].memory.content, "Hal's cat is named Miso.");
  assert.ok(found.results.every((r) => r.memory.user_id === "hal"));
  const kw = await client.search({ query: "Volvo", mode: "keyword", filters: { user_id: "hal" } });
  assert.deepEqual(kw.results.map((r) => r.memory.content), ["Hal drives a blue Volvo."]);

  const ctx = await client.context({ query: "cats", token_budget: 20, filters: { user_id: "hal" } });
  assert.ok(ctx.tokens > 0 && ctx.tokens <= 20);
  await assert.rejects(client.answer({ query: "anything?" }), (e) => e instanceof Conflict && e.code === "llm_not_configured");
});

test("conversations, folders, export and import", async (t) => {
  const a = await tenant();
  const b = await tenant();
  t.after(() => Promise.all([a.cleanup(), b.cleanup()]));
  const conv = await a.client.conversations.create({ title: "Garden", user_id: "lea" });
  await a.client.conversations.append(conv.id, { role: "user", content: "When do I plant tulips?" });
  await a.client.conversations.appendBatch(conv.id, [{ role: "assistant", content: "In autumn, before the frost." }]);
  const msgs = [];
  for await (const m of a.client.conversations.iterMessages(conv.id, { limit: 1 })) msgs.push(m.content);
  assert.deepEqual(msgs, ["When do I plant tulips?", "In autumn, before the frost."]);
  await a.client.conversations.update(conv.id, { folder: "home/garden" });
  assert.ok((await a.client.folders()).some((f) => f.path === "home/garden"));
  assert.match(await a.client.conversations.exportMarkdown(conv.id), /tulips/);

  const line = JSON.stringify(await a.client.conversations.export(conv.id));
  let job = await b.client.imports.start(line, { format: "jsonl", folder: "imports" });
  for (let i = 0; job.status === "running" && i < 150; i++) {
    await new Promise((r) => setTimeout(r, 200));
    job = await b.client.imports.get(job.id);
  }
  assert.equal(job.status, "done");
  assert.equal(job.messages, 2);
  const copied = [];
  for await (const c of b.client.conversations.iter({ folder: "imports" })) copied.push(c.title);
  assert.deepEqual(copied, ["Garden"]);
  await assert.rejects(a.client.imports.get(job.id), NotFound);
});

test("admin: tenants, keys, revocation, budgets", async () => {
  const adm = admin();
  const t = await adm.admin.tenants.create("ts-admin");
  const k = await adm.admin.keys.create(t.id, "agent");
  const c = new EngramClient({ url: env("ENGRAM_URL"), apiKey: k.key });
  await c.memories.add({ content: "works" });
  const keys = await adm.admin.keys.list(t.id);
  assert.deepEqual(keys.map((x) => x.key), [undefined]);
  await adm.admin.keys.revoke(t.id, k.id);
  await assert.rejects(c.memories.add({ content: "after" }), (e) => e.status === 401);
  const budget = await adm.admin.budgets.set(t.id, { metric: "tokens", period: "day", limit: 500, hard: true });
  assert.equal(budget.limit, 500);
  await adm.admin.budgets.delete(t.id, { metric: "tokens", period: "day" });
  assert.deepEqual(await adm.admin.budgets.list(t.id), []);
  await adm.admin.tenants.delete(t.id);
  assert.ok(!(await adm.admin.tenants.list()).some((x) => x.id === t.id));
});

test("429 is retried after Retry-After, or surfaces with it", async () => {
  const limited = env("ENGRAM_LIMITED_URL");
  const { key } = await tenant(limited);
  const patient = new EngramClient({ url: limited, apiKey: key, retry: { maxRetries: 5 } });
  for (let i = 0; i < 3; i++) await patient.memories.add({ content: `note ${i}` });
  const hasty = new EngramClient({ url: limited, apiKey: key, retry: { maxRetries: 0 } });
  await assert.rejects(
    (async () => { for (let i = 0; i < 5; i++) await hasty.memories.list(); })(),
    (e) => e instanceof RateLimited && e.status === 429 && e.retryAfter > 0,
  );
});
