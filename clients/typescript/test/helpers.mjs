// The tests run against a real engram server: crates/engram/tests/sdk_typescript.rs
// starts the binary and sets ENGRAM_URL and ENGRAM_ADMIN_KEY (and
// ENGRAM_LIMITED_URL, a second server rate limited to about one request a
// second). Each test makes its own tenant.
import { randomUUID } from "node:crypto";
import { EngramClient } from "../dist/index.js";

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these through \`cargo test -p engram --test sdk_typescript\``);
  return v;
}

export const url = () => env("ENGRAM_URL");
export const admin = (u = url()) => new EngramClient({ url: u, apiKey: env("ENGRAM_ADMIN_KEY") });

/** A fresh tenant: `{tenant, client, key, cleanup}`. */
export async function tenant(u = url(), opts = {}) {
  const a = admin(u);
  const t = await a.admin.tenants.create(`sdk-ts-${randomUUID().slice(0, 8)}`);
  const k = await a.admin.keys.create(t.id, "sdk test", ["read", "write"]);
  const client = new EngramClient({ url: u, apiKey: k.key, ...opts });
  return { tenant: t, key: k.key, client, cleanup: () => a.admin.tenants.delete(t.id) };
}
