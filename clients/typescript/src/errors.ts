/**
 * Errors thrown by the client. Every error the server answers is an
 * `application/problem+json` body with a stable `code` (docs/ERRORS.md);
 * {@link ApiError} carries it so callers branch on the code, not on the
 * wording of `detail`.
 */

/** Base of everything this package throws. */
export class EngramError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The server could not be reached (connection refused, DNS, timeout).
 * Nothing is known about whether a write happened: retry it with the same
 * `idempotencyKey`.
 */
export class TransportError extends EngramError {}

/** The problem document of an error answer. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  field?: string;
  [extra: string]: unknown;
}

/**
 * The server answered with an error status. `code` is the problem's stable
 * code (`invalid_field`, `not_found`, `budget_exceeded`...), `field` the
 * request field at fault when the server named one, `retryAfter` the
 * seconds the server asked to wait (429, 503).
 */
export class ApiError extends EngramError {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly field?: string;
  readonly retryAfter?: number;
  readonly body: Problem;

  constructor(status: number, body: Problem, retryAfter?: number) {
    const code = body.code ?? `http_${status}`;
    const detail = body.detail ?? "no detail";
    super(`${status} ${code}: ${detail}${body.field ? ` (field ${body.field})` : ""}`);
    this.status = status;
    this.code = code;
    this.title = body.title ?? "";
    this.detail = detail;
    this.field = body.field;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** 400: the request is malformed or a field is invalid (see `field`). */
export class BadRequest extends ApiError {}
/** 401: the key is missing or unknown. */
export class Unauthorized extends ApiError {}
/** 402: a hard budget of the tenant or project is spent. */
export class BudgetExceeded extends ApiError {}
/** 403: the key lacks the scope, or is not the admin key. */
export class Forbidden extends ApiError {}
/** 404: no such thing in this tenant. */
export class NotFound extends ApiError {}
/** 409: e.g. an idempotency key reused with another body, or no LLM configured. */
export class Conflict extends ApiError {}
/** 413: the body is over the server's limit; send smaller batches. */
export class PayloadTooLarge extends ApiError {}
/** 429: still rate limited after the client's retries. */
export class RateLimited extends ApiError {}
/** 503: not ready, or the request took too long, after the client's retries. */
export class Unavailable extends ApiError {}

const BY_STATUS: Record<number, typeof ApiError> = {
  400: BadRequest,
  401: Unauthorized,
  402: BudgetExceeded,
  403: Forbidden,
  404: NotFound,
  409: Conflict,
  413: PayloadTooLarge,
  429: RateLimited,
  503: Unavailable,
};

/** The error for an answer; a body that is no problem document (a proxy's page) still names the status. */
export function errorFor(status: number, body: unknown, retryAfter?: number): ApiError {
  const problem: Problem =
    body && typeof body === "object" ? (body as Problem) : { detail: typeof body === "string" && body ? body : undefined };
  const Class = BY_STATUS[status] ?? ApiError;
  return new Class(status, problem, retryAfter);
}
