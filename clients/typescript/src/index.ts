/**
 * @engram/client: the TypeScript client of engram, the long-term memory
 * server for LLM agents.
 *
 * ```ts
 * import { EngramClient } from "@engram/client";
 * const engram = new EngramClient({ url: "http://127.0.0.1:8080", apiKey: KEY });
 * await engram.memories.add({ content: "Alice works at the Acme bakery.", user_id: "alice" });
 * console.log((await engram.context({ query: "Where does Alice work?", filters: { user_id: "alice" } })).context);
 * ```
 */

export * from "./client.js";
export * from "./errors.js";
export type * from "./models.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./transport.js";
