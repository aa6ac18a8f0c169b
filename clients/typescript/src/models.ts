/**
 * The server's objects, as the JSON it sends (snake_case fields, times as
 * RFC 3339 strings). Fields a newer server adds come through untyped.
 */

export type Kind = "episodic" | "semantic" | "procedural" | (string & {});
export type Role = "user" | "assistant" | "system" | "tool";
export type Scope = "read" | "write";
export type SearchMode = "hybrid" | "vector" | "keyword";
export type Json = Record<string, unknown>;

export interface Memory {
  id: string;
  content: string;
  kind: Kind;
  user_id: string | null;
  agent_id: string | null;
  session_id: string | null;
  role: string | null;
  labels: string[];
  metadata: Json;
  importance: number;
  occurred_at: string;
  created_at: string;
  updated_at: string;
  valid_from?: string | null;
  valid_to?: string | null;
  sources: string[];
  version: number;
  version_of?: string | null;
}

/** A memory to write (one add, or one item of a batch). */
export interface NewMemory {
  content: string;
  kind?: Kind;
  user_id?: string;
  agent_id?: string;
  session_id?: string;
  role?: string;
  labels?: string[];
  metadata?: Json;
  importance?: number;
  /** When it happened (default now); kept as given on import. */
  occurred_at?: string | Date;
  embedding?: number[];
  valid_from?: string | Date;
  valid_to?: string | Date;
  sources?: string[];
  /** Queue fact extraction with the server's LLM. */
  infer?: boolean;
}

/** A correction in place; absent fields stay as they are. */
export interface MemoryPatch {
  content?: string;
  labels?: string[];
  metadata?: Json;
  importance?: number;
  kind?: Kind;
  valid_from?: string | Date;
  valid_to?: string | Date;
}

export interface MemoryListQuery {
  user_id?: string;
  agent_id?: string;
  session_id?: string;
  label?: string;
  kind?: Kind;
  after?: string | Date;
  before?: string | Date;
  as_of?: string | Date;
  limit?: number;
  cursor?: string;
}

export interface ScopeQuery {
  user_id?: string;
  agent_id?: string;
  session_id?: string;
}

/** Restricts a search, context or answer; every condition must hold (`labels`: all). */
export interface Filters {
  user_id?: string;
  agent_id?: string;
  session_id?: string;
  kind?: Kind;
  labels?: string[];
  after?: string | Date;
  before?: string | Date;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; absent on the last. */
  next_cursor?: string | null;
}

export interface BatchResult {
  ids: string[];
  jobs: string[];
}

export interface SearchRequest {
  query: string;
  limit?: number;
  mode?: SearchMode;
  filters?: Filters;
  as_of?: string | Date;
  include_archived?: boolean;
  embedding?: number[];
}

export interface SearchResult {
  memory: Memory;
  score: number;
}

export interface SearchResponse {
  results: SearchResult[];
  took_ms: number;
}

export interface ContextRequest {
  query: string;
  token_budget?: number;
  filters?: Filters;
  as_of?: string | Date;
  lead_with_summary?: boolean;
  include_archived?: boolean;
}

export interface Citation {
  id: string;
  content: string;
  occurred_at: string;
  score: number;
}

/** A prompt-ready block within the token budget, and the memories it cites. */
export interface Context {
  context: string;
  tokens: number;
  items: Citation[];
}

export interface AnswerRequest {
  query: string;
  token_budget?: number;
  filters?: Filters;
  max_tokens?: number;
}

export interface Answer {
  answer: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  context: Context;
}

export interface NewVersion {
  content: string;
  valid_from?: string | Date;
  sources?: string[];
  importance?: number;
}

/** Every version of a fact, oldest first, the current one last. */
export interface History {
  versions: Memory[];
}

export interface Conversation {
  id: string;
  title: string;
  user_id: string | null;
  agent_id: string | null;
  label: string | null;
  folder: string | null;
  importance: number;
  pinned: boolean;
  archived: boolean;
  metadata: Json;
  source: string | null;
  created_at: string;
  updated_at: string;
}

export interface NewConversation {
  title: string;
  user_id?: string;
  agent_id?: string;
  label?: string;
  metadata?: Json;
}

export interface ConversationPatch {
  title?: string;
  label?: string;
  folder?: string;
  importance?: number;
  pinned?: boolean;
  archived?: boolean;
  metadata?: Json;
}

export interface ConversationListQuery {
  label?: string;
  folder?: string;
  pinned?: boolean;
  archived?: boolean;
  user_id?: string;
  q?: string;
  limit?: number;
  cursor?: string;
}

/** A message of a conversation; its `id` is also a memory's. */
export interface Message {
  id: string;
  conversation_id: string;
  role: string;
  content: string;
  occurred_at: string;
  metadata: Json;
  created_at: string;
}

export interface NewMessage {
  role: Role;
  content: string;
  occurred_at?: string | Date;
  metadata?: Json;
}

export interface ConversationSearch {
  query: string;
  limit?: number;
  mode?: SearchMode;
  conversation_id?: string;
  folder?: string;
  label?: string;
  include_archived?: boolean;
}

export interface Folder {
  path: string;
  depth: number;
  conversations: number;
  total: number;
}

export interface ImportJob {
  id: string;
  format: string;
  status: "running" | "done" | "failed";
  total: number;
  conversations: number;
  messages: number;
  skipped: number;
  error?: string | null;
  created_at: string;
  updated_at: string;
}

/** A background job (fact extraction, summaries, re-embedding). */
export interface Job {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  max_attempts: number;
  last_error?: string | null;
  result?: unknown;
  run_after: string;
  created_at: string;
  updated_at: string;
}

export interface SummaryRequest {
  session_id?: string;
  user_id?: string;
  agent_id?: string;
  period?: "daily" | "weekly" | "monthly";
  at?: string | Date;
}

export interface UsageQuery {
  from?: string | Date;
  to?: string | Date;
  group_by?: "day" | "kind" | "project";
}

export interface UsageItem {
  group: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  duration_ms: number;
}

export interface Usage {
  group_by: string;
  items: UsageItem[];
}

export interface Tenant {
  id: string;
  name: string;
  created_at: string;
}

/** A tenant key; `key` (the secret) only when just created. */
export interface Key {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  tenant_id?: string;
  key?: string;
}

export interface NewBudget {
  metric: "tokens" | "cost" | (string & {});
  period: "day" | "month" | (string & {});
  limit: number;
  hard?: boolean;
  project?: string;
}

export interface Budget {
  metric: string;
  period: string;
  limit: number;
  hard: boolean;
  project?: string | null;
  used: number;
  resets_at: string;
  updated_at: string;
}
