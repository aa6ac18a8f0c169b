/**
 * Sending requests: authentication, retries on 429 and 503 honouring
 * `Retry-After`, and error answers turned into exceptions.
 */

import { ApiError, TransportError, errorFor } from "./errors.js";

/**
 * How often and how long to wait on 429 (rate limited) and 503 (not ready,
 * or too slow). `Retry-After` is honoured up to `maxWait` seconds; without
 * it the wait doubles from `backoff` seconds.
 */
export interface RetryPolicy {
  maxRetries: number;
  backoff: number;
  maxWait: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, backoff: 0.5, maxWait: 30 };

const RETRY_STATUSES = new Set([429, 503]);

export type Query = Record<string, string | number | boolean | Date | null | undefined>;

export interface Request {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  query?: Query;
  body?: unknown;
  /** Sent as is (an upload) instead of JSON. */
  raw?: BodyInit;
  headers?: Record<string, string>;
  /** `text` for a text answer (a Markdown export). */
  expect?: "json" | "text" | "none";
}

export function delay(policy: RetryPolicy, attempt: number, error: ApiError): number | undefined {
  if (!RETRY_STATUSES.has(error.status) || attempt >= policy.maxRetries) return undefined;
  if (error.retryAfter !== undefined) return Math.min(Math.max(error.retryAfter, 0), policy.maxWait);
  const jitter = Math.random() * (policy.backoff / 2);
  return Math.min(policy.backoff * 2 ** attempt + jitter, policy.maxWait);
}

function retryAfter(resp: Response): number | undefined {
  const v = resp.headers.get("retry-after");
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function url(base: string, path: string, query?: Query): string {
  const u = new URL(base + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null) continue;
    u.searchParams.set(k, v instanceof Date ? v.toISOString() : String(v));
  }
  return u.toString();
}

export class Transport {
  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string>,
    readonly retry: RetryPolicy,
    private readonly fetchImpl: typeof fetch,
    private readonly timeoutMs: number,
  ) {}

  async send<T>(req: Request): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(req);
      } catch (e) {
        const wait = e instanceof ApiError ? delay(this.retry, attempt, e) : undefined;
        if (wait === undefined) throw e;
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      }
    }
  }

  private async once<T>(req: Request): Promise<T> {
    const headers: Record<string, string> = { ...this.headers, ...(req.headers ?? {}) };
    let body: BodyInit | undefined = req.raw;
    if (req.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(req.body);
    }
    let resp: Response;
    try {
      resp = await this.fetchImpl(url(this.baseUrl, req.path, req.query), {
        method: req.method,
        headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new TransportError(`${req.method} ${req.path}: ${(e as Error).message}`, { cause: e });
    }
    if (resp.status >= 400) {
      const text = await resp.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: a proxy's page; the status still says what happened.
      }
      throw errorFor(resp.status, parsed, retryAfter(resp));
    }
    const expect = req.expect ?? "json";
    if (resp.status === 204 || expect === "none") {
      await resp.body?.cancel();
      return undefined as T;
    }
    return (expect === "text" ? await resp.text() : await resp.json()) as T;
  }
}
