// Test support: the /api/v1 route files found on disk, a dispatcher that calls their exported
// handlers like Next.js does, and a loopback HTTP server in front of it for the CLI tests.
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export const API_DIR = path.resolve(import.meta.dirname, '../../../app/api/v1');
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export type RouteFile = {
  file: string;
  /** OpenAPI form relative to /api/v1, e.g. `/registrations/{id}`; a catch-all ends in `{...path}`. */
  template: string;
  segments: Array<{ kind: 'static'; value: string } | { kind: 'param'; name: string } | { kind: 'catchAll'; name: string }>;
};

export function findRouteFiles(dir = API_DIR, prefix: string[] = []): RouteFile[] {
  const out: RouteFile[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...findRouteFiles(full, [...prefix, entry]));
    else if (entry === 'route.ts') {
      const segments = prefix.map((s) => {
        const catchAll = /^\[\.\.\.(\w+)\]$/.exec(s);
        if (catchAll) return { kind: 'catchAll' as const, name: catchAll[1]! };
        const param = /^\[(\w+)\]$/.exec(s);
        return param ? { kind: 'param' as const, name: param[1]! } : { kind: 'static' as const, value: s };
      });
      const template = '/' + segments.map((s) => (s.kind === 'static' ? s.value : s.kind === 'param' ? `{${s.name}}` : `{...${s.name}}`)).join('/');
      out.push({ file: full, template, segments });
    }
  }
  return out;
}

type Module = Partial<Record<(typeof HTTP_METHODS)[number], (request: Request, context: { params: Promise<Record<string, string | string[]>> }) => Promise<Response>>>;

const modules = new Map<string, Promise<Module>>();
export function loadRoute(file: string): Promise<Module> {
  if (!modules.has(file)) modules.set(file, import(file) as Promise<Module>);
  return modules.get(file)!;
}

function match(route: RouteFile, parts: string[]): Record<string, string | string[]> | null {
  const params: Record<string, string | string[]> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const s = route.segments[i]!;
    if (s.kind === 'catchAll') {
      if (parts.length <= i) return null;
      params[s.name] = parts.slice(i);
      return params;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (s.kind === 'static' && s.value !== part) return null;
    if (s.kind === 'param') params[s.name] = part;
  }
  return parts.length === route.segments.length ? params : null;
}

/** Static segments win over parameters, parameters over catch-alls (as in the App Router). */
function rank(route: RouteFile): number[] {
  return route.segments.map((s) => (s.kind === 'static' ? 0 : s.kind === 'param' ? 1 : 2));
}

let routes: RouteFile[] | undefined;

/** Calls the route handler for a request to /api/v1/…, as Next.js would (405 for a method the file lacks). */
export async function dispatch(request: Request): Promise<Response> {
  routes ??= findRouteFiles().sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
      const d = (ra[i] ?? -1) - (rb[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
  const pathname = new URL(request.url).pathname;
  if (!pathname.startsWith('/api/v1/')) return new Response('not found', { status: 404 });
  const parts = pathname.slice('/api/v1/'.length).split('/').filter(Boolean).map(decodeURIComponent);
  for (const route of routes) {
    const params = match(route, parts);
    if (!params) continue;
    const mod = await loadRoute(route.file);
    const handler = mod[request.method as (typeof HTTP_METHODS)[number]];
    if (!handler) return new Response(null, { status: 405 });
    return handler(request, { params: Promise.resolve(params) });
  }
  return new Response('not found', { status: 404 });
}

/**
 * A loopback HTTP server that hands every request to `dispatch` (the CLI talks to it with fetch);
 * `other` answers paths outside /api/v1 (e.g. the JWKS route a hospital fetches).
 */
export async function serveApi(opts: { other?: (request: Request) => Promise<Response> } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const origin = `http://${req.headers.host}`;
      const request = new Request(new URL(req.url ?? '/', origin), { method: req.method, headers, body: body.length > 0 ? body : undefined });
      const inApi = new URL(request.url).pathname.startsWith('/api/v1/');
      const response = inApi || !opts.other ? await dispatch(request) : await opts.other(request);
      res.statusCode = response.status;
      response.headers.forEach((value, key) => res.setHeader(key, value));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
