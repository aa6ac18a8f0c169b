/**
 * `EngramClient`: the whole v1 API, grouped as the server groups it
 * (`memories`, `conversations`, `imports`, `jobs`, `admin`), with search,
 * context and answer at the top.
 */

import type * as M from "./models.js";
import { DEFAULT_RETRY, type Query, type Request, type RetryPolicy, Transport } from "./transport.js";

export interface ClientOptions {
  /** Default `ENGRAM_URL`, else `http://127.0.0.1:8080`. */
  url?: string;
  /** A tenant key, or the admin key for `admin`; default `ENGRAM_API_KEY`. */
  apiKey?: string;
  retry?: Partial<RetryPolicy>;
  /** Per request, default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface WriteOptions {
  /**
   * Makes retries safe: the same key with the same body returns the first
   * result. Without one the client makes a fresh key per call, so its own
   * retries never write twice.
   */
  idempotencyKey?: string;
  /** `X-Project-ID`: the project LLM work is metered and budgeted under. */
  project?: string;
}

type Env = { process?: { env?: Record<string, string | undefined> } };
const env = (name: string): string | undefined => (globalThis as Env).process?.env?.[name] || undefined;

function project(p?: string): Record<string, string> {
  return p ? { "X-Project-ID": p } : {};
}

function idempotent(opts?: WriteOptions): Record<string, string> {
  return { "Idempotency-Key": opts?.idempotencyKey ?? crypto.randomUUID(), ...project(opts?.project) };
}

const enc = encodeURIComponent;

/** Walks a cursor-paged list, item by item, asking for the next page only when needed. */
async function* pages<T>(fetchPage: (cursor?: string) => Promise<M.Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

abstract class Resource {
  constructor(protected readonly t: Transport) {}
  protected send<T>(req: Request): Promise<T> {
    return this.t.send<T>(req);
  }
}

/** `/v1/memories`: write, read, list and delete memories. */
export class Memories extends Resource {
  add(memory: M.NewMemory, opts?: WriteOptions): Promise<M.Memory> {
    return this.send({ method: "POST", path: "/v1/memories", body: memory, headers: idempotent(opts) });
  }

  /** Up to 1000 memories, all or none; a retry with the same idempotency key answers the first write's ids. */
  addBatch(items: M.NewMemory[], opts?: WriteOptions): Promise<M.BatchResult> {
    return this.send({ method: "POST", path: "/v1/memories/batch", body: { items }, headers: idempotent(opts) });
  }

  get(id: string): Promise<M.Memory> {
    return this.send({ method: "GET", path: `/v1/memories/${enc(id)}` });
  }

  /** Corrects in place; a change in the world is `newVersion` instead. */
  update(id: string, patch: M.MemoryPatch): Promise<M.Memory> {
    return this.send({ method: "PATCH", path: `/v1/memories/${enc(id)}`, body: patch });
  }

  delete(id: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/memories/${enc(id)}` });
  }

  /** Deletes every memory of a user, agent or session (one at least); resolves to how many. */
  async deleteWhere(scope: M.ScopeQuery): Promise<number> {
    const r = await this.send<{ deleted: number }>({ method: "DELETE", path: "/v1/memories", query: scope as Query });
    return r.deleted;
  }

  /** One page, newest first; `iter` walks them all. */
  list(query: M.MemoryListQuery = {}): Promise<M.Page<M.Memory>> {
    return this.send({ method: "GET", path: "/v1/memories", query: query as Query });
  }

  /** Every memory under the filters (`for await`), newest first. */
  iter(query: Omit<M.MemoryListQuery, "cursor"> = {}): AsyncGenerator<M.Memory> {
    return pages((cursor) => this.list({ limit: 100, ...query, cursor }));
  }

  /** The fact changed: a new version, the old state kept in its history. */
  newVersion(id: string, version: M.NewVersion): Promise<M.Memory> {
    return this.send({ method: "POST", path: `/v1/memories/${enc(id)}/versions`, body: version });
  }

  history(id: string): Promise<M.History> {
    return this.send({ method: "GET", path: `/v1/memories/${enc(id)}/history` });
  }

  reembed(ids: string[]): Promise<M.Job> {
    return this.send({ method: "POST", path: "/v1/memories/reembed", body: { ids } });
  }
}

/** `/v1/conversations`: threads of messages, each message a memory. */
export class Conversations extends Resource {
  create(conversation: M.NewConversation): Promise<M.Conversation> {
    return this.send({ method: "POST", path: "/v1/conversations", body: conversation });
  }

  get(id: string): Promise<M.Conversation> {
    return this.send({ method: "GET", path: `/v1/conversations/${enc(id)}` });
  }

  update(id: string, patch: M.ConversationPatch): Promise<M.Conversation> {
    return this.send({ method: "PATCH", path: `/v1/conversations/${enc(id)}`, body: patch });
  }

  delete(id: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/conversations/${enc(id)}` });
  }

  list(query: M.ConversationListQuery = {}): Promise<M.Page<M.Conversation>> {
    return this.send({ method: "GET", path: "/v1/conversations", query: query as Query });
  }

  iter(query: Omit<M.ConversationListQuery, "cursor"> = {}): AsyncGenerator<M.Conversation> {
    return pages((cursor) => this.list({ limit: 100, ...query, cursor }));
  }

  append(id: string, message: M.NewMessage, opts?: Pick<WriteOptions, "idempotencyKey">): Promise<M.Message> {
    return this.send({
      method: "POST", path: `/v1/conversations/${enc(id)}/messages`, body: message, headers: idempotent(opts),
    });
  }

  /** Up to 1000 messages, all or none. */
  async appendBatch(id: string, messages: M.NewMessage[], opts?: Pick<WriteOptions, "idempotencyKey">): Promise<M.Message[]> {
    const r = await this.send<{ items: M.Message[] }>({
      method: "POST", path: `/v1/conversations/${enc(id)}/messages/batch`, body: { items: messages },
      headers: idempotent(opts),
    });
    return r.items;
  }

  /** One page of messages, oldest first. */
  messages(id: string, query: { limit?: number; cursor?: string } = {}): Promise<M.Page<M.Message>> {
    return this.send({ method: "GET", path: `/v1/conversations/${enc(id)}/messages`, query });
  }

  iterMessages(id: string, query: { limit?: number } = {}): AsyncGenerator<M.Message> {
    return pages((cursor) => this.messages(id, { limit: 100, ...query, cursor }));
  }

  /** The whole conversation as `{conversation, messages}`. */
  export(id: string): Promise<{ conversation: M.Conversation; messages: M.Message[] }> {
    return this.send({ method: "GET", path: `/v1/conversations/${enc(id)}/export`, query: { format: "json" } });
  }

  /** A Markdown transcript. */
  exportMarkdown(id: string): Promise<string> {
    return this.send({
      method: "GET", path: `/v1/conversations/${enc(id)}/export`, query: { format: "markdown" }, expect: "text",
    });
  }

  search(request: M.ConversationSearch): Promise<M.SearchResponse> {
    return this.send({ method: "POST", path: "/v1/conversations/search", body: request });
  }
}

/** `/v1/import`: ChatGPT, Claude or JSON-lines exports, run as a job. */
export class Imports extends Resource {
  /** Uploads an export file's contents; `get` follows the job. Importing it again writes nothing new. */
  start(data: BodyInit, opts: { format: "chatgpt" | "claude" | "jsonl"; folder?: string; label?: string }): Promise<M.ImportJob> {
    return this.send({
      method: "POST", path: "/v1/import", query: opts, raw: data,
      headers: { "Content-Type": "application/octet-stream" },
    });
  }

  get(id: string): Promise<M.ImportJob> {
    return this.send({ method: "GET", path: `/v1/import/${enc(id)}` });
  }
}

export class Jobs extends Resource {
  get(id: string): Promise<M.Job> {
    return this.send({ method: "GET", path: `/v1/jobs/${enc(id)}` });
  }
}

/** Tenants (admin key). */
export class Tenants extends Resource {
  create(name: string): Promise<M.Tenant> {
    return this.send({ method: "POST", path: "/v1/tenants", body: { name } });
  }

  async list(): Promise<M.Tenant[]> {
    return (await this.send<{ items: M.Tenant[] }>({ method: "GET", path: "/v1/tenants" })).items;
  }

  /** Deletes the tenant and erases every memory of it. */
  delete(id: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/tenants/${enc(id)}` });
  }
}

/** Tenant keys (admin key). */
export class Keys extends Resource {
  /** A new key; its secret (`key`) is shown this once. */
  create(tenantId: string, name: string, scopes: M.Scope[] = ["read", "write"]): Promise<M.Key> {
    return this.send({ method: "POST", path: `/v1/tenants/${enc(tenantId)}/keys`, body: { name, scopes } });
  }

  async list(tenantId: string): Promise<M.Key[]> {
    return (await this.send<{ items: M.Key[] }>({ method: "GET", path: `/v1/tenants/${enc(tenantId)}/keys` })).items;
  }

  /** The key stops working at once. */
  revoke(tenantId: string, keyId: string): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/tenants/${enc(tenantId)}/keys/${enc(keyId)}` });
  }
}

/** Per-tenant and per-project budgets (admin key). */
export class Budgets extends Resource {
  set(tenantId: string, budget: M.NewBudget): Promise<M.Budget> {
    return this.send({ method: "PUT", path: `/v1/tenants/${enc(tenantId)}/budgets`, body: budget });
  }

  async list(tenantId: string): Promise<M.Budget[]> {
    return (await this.send<{ items: M.Budget[] }>({ method: "GET", path: `/v1/tenants/${enc(tenantId)}/budgets` })).items;
  }

  delete(tenantId: string, key: { metric: string; period: string; project?: string }): Promise<void> {
    return this.send({ method: "DELETE", path: `/v1/tenants/${enc(tenantId)}/budgets`, query: key });
  }
}

/** What the admin key may do. */
export class Admin {
  readonly tenants: Tenants;
  readonly keys: Keys;
  readonly budgets: Budgets;
  constructor(t: Transport) {
    this.tenants = new Tenants(t);
    this.keys = new Keys(t);
    this.budgets = new Budgets(t);
  }
}

export class EngramClient extends Resource {
  readonly memories: Memories;
  readonly conversations: Conversations;
  readonly imports: Imports;
  readonly jobs: Jobs;
  readonly admin: Admin;

  constructor(options: ClientOptions = {}) {
    const base = (options.url ?? env("ENGRAM_URL") ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    const key = options.apiKey ?? env("ENGRAM_API_KEY");
    const headers: Record<string, string> = key ? { Authorization: `Bearer ${key}` } : {};
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    super(new Transport(base, headers, { ...DEFAULT_RETRY, ...options.retry }, fetchImpl, options.timeoutMs ?? 30_000));
    this.memories = new Memories(this.t);
    this.conversations = new Conversations(this.t);
    this.imports = new Imports(this.t);
    this.jobs = new Jobs(this.t);
    this.admin = new Admin(this.t);
  }

  /** Hybrid search (`mode: "vector"` or `"keyword"` for one side), best first. */
  search(request: M.SearchRequest): Promise<M.SearchResponse> {
    return this.send({ method: "POST", path: "/v1/search", body: request });
  }

  /** A prompt-ready block of what matters for `query`, within `token_budget`, citing each memory. */
  context(request: M.ContextRequest): Promise<M.Context> {
    return this.send({ method: "POST", path: "/v1/context", body: request });
  }

  /** An answer written by the server's LLM from the memories (409 `llm_not_configured` without one). */
  answer(request: M.AnswerRequest, opts?: Pick<WriteOptions, "project">): Promise<M.Answer> {
    return this.send({ method: "POST", path: "/v1/answer", body: request, headers: project(opts?.project) });
  }

  /** Queues a session summary or a roll-up; needs an LLM. */
  summarize(request: M.SummaryRequest, opts?: Pick<WriteOptions, "project">): Promise<M.Job> {
    return this.send({ method: "POST", path: "/v1/summaries", body: request, headers: project(opts?.project) });
  }

  /** Queues insights across a user's latest memories; needs an LLM. */
  reflect(request: { user_id: string; agent_id?: string }, opts?: Pick<WriteOptions, "project">): Promise<M.Job> {
    return this.send({ method: "POST", path: "/v1/reflections", body: request, headers: project(opts?.project) });
  }

  async folders(): Promise<M.Folder[]> {
    return (await this.send<{ folders: M.Folder[] }>({ method: "GET", path: "/v1/folders" })).folders;
  }

  /** This tenant's LLM and embedding usage by day, kind or project. */
  usage(query: M.UsageQuery = {}): Promise<M.Usage> {
    return this.send({ method: "GET", path: "/v1/usage", query: query as Query });
  }
}
