// A small fetch client for /api/v1: bearer token, JSON, problem+json errors, paging, 429 retries.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.code = problem?.code || `HTTP_${status}`;
  }
}

const MAX_RETRY_WAIT_SECONDS = 60;

export function createClient({ url, token, fetchImpl = globalThis.fetch }) {
  const base = `${String(url).replace(/\/+$/, '')}/api/v1`;

  async function request(method, path, { body, headers = {}, retries = 3 } = {}) {
    const init = { method, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
    let response;
    try {
      response = await fetchImpl(`${base}${path}`, init);
    } catch (error) {
      throw new ApiError(0, { code: 'CONNECTION_FAILED', title: 'Cannot reach Registrar', detail: `Cannot reach ${base}: ${error?.cause?.code || error?.message || error}` });
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (response.status === 429 && retries > 0) {
      const wait = Number(response.headers.get('retry-after') || '1');
      if (Number.isFinite(wait) && wait <= MAX_RETRY_WAIT_SECONDS) {
        await new Promise((r) => setTimeout(r, Math.max(1, wait) * 1000));
        return request(method, path, { body, headers, retries: retries - 1 });
      }
    }
    if (!response.ok) throw new ApiError(response.status, data && typeof data === 'object' ? data : { title: `HTTP ${response.status}`, detail: text.slice(0, 300) || response.statusText });
    return { status: response.status, headers: response.headers, data };
  }

  return {
    base,
    request,
    get: (path) => request('GET', path).then((r) => r.data),
    post: (path, body, headers) => request('POST', path, { body, headers }).then((r) => r.data),
    put: (path, body) => request('PUT', path, { body }).then((r) => r.data),
    patch: (path, body) => request('PATCH', path, { body }).then((r) => r.data),
    delete: (path) => request('DELETE', path).then((r) => r.data),
    /** Every item of a paginated list. */
    async all(path, pageSize = 100) {
      const items = [];
      const sep = path.includes('?') ? '&' : '?';
      for (let page = 1; ; page++) {
        const data = await request('GET', `${path}${sep}page=${page}&pageSize=${pageSize}`).then((r) => r.data);
        items.push(...data.items);
        if (items.length >= data.total || data.items.length === 0) return items;
      }
    },
  };
}

/** One line for stderr: what failed, its code and status, and the problem's detail. */
export function describeError(error) {
  if (error instanceof ApiError) {
    const p = error.problem || {};
    const lines = [`Error: ${p.detail || p.title || error.message} (${error.code}${error.status ? `, HTTP ${error.status}` : ''})`];
    for (const e of p.errors || []) lines.push(`  ${e.path}: ${e.message}`);
    if (p.upstream?.errorDescription || p.upstream?.error) lines.push(`  The server said: ${[p.upstream.error, p.upstream.errorDescription].filter(Boolean).join(': ')}`);
    if (p.requestId) lines.push(`  Request id: ${p.requestId}`);
    return lines.join('\n');
  }
  return `Error: ${error?.message || error}`;
}
