// The only way the console talks to engram: the public REST API, with the
// key from session storage (never a URL, never local storage, so it is
// gone when the tab closes).

const KEY = 'engram.key';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/** A failed call, with the server's problem+json when it sent one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(status, problem));
    this.status = status;
    this.problem = problem && typeof problem === 'object' ? problem : {};
    this.code = this.problem.code;
  }
}

function describe(status, problem) {
  if (problem && typeof problem === 'object' && problem.detail) {
    return `${problem.detail} (${status} ${problem.code || problem.title || ''})`.trim();
  }
  return `the server answered ${status}`;
}

/**
 * `method path` with an optional JSON body; resolves to the parsed body
 * (null for 204), rejects with an ApiError. `ok` lists extra statuses
 * that carry a normal answer (503 from /ready).
 */
export async function call(method, path, body, { ok = [], key = session.key() } = {}) {
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, { detail: `the server cannot be reached (${e.message})` });
  }
  if (resp.status === 204 || resp.status === 304) return null;
  const type = resp.headers.get('content-type') || '';
  const data = type.includes('json') ? await resp.json() : await resp.text();
  if (!resp.ok && !ok.includes(resp.status)) throw new ApiError(resp.status, data);
  return data;
}

export const get = (path, opts) => call('GET', path, undefined, opts);
export const post = (path, body, opts) => call('POST', path, body, opts);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

/** `?a=1&b=2` from the non-empty entries of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Path segment for an id typed or returned by the server. */
export const seg = encodeURIComponent;
