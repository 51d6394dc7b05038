import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { insertUser } from '@/db/factories';

/** Runs the BUILT app (`next start`) on the bench database and signs a manager in. */
export async function startBenchApp(databaseUrl: string, port = 3197) {
  const child: ChildProcess = spawn(process.execPath, [path.resolve('node_modules/next/dist/bin/next'), 'start', '-p', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, DATABASE_URL: databaseUrl, NEXTAUTH_URL: `http://localhost:${port}`, NEXTAUTH_SECRET: 'bench-session-secret-xxxxxxxx', LOG_LEVEL: 'warn', REGISTRAR_DISABLE_JOBS: '1' },
  });
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${base}/signin`)).status < 500) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const password = 'bench-manager-password';
  const manager = await insertUser({ role: 'manager', password });
  const csrf = await fetch(`${base}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const csrfCookie = csrf.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const login = await fetch(`${base}/api/auth/callback/credentials`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({ csrfToken, email: manager.email, password, json: 'true' }),
  });
  const cookie = [csrfCookie, ...login.headers.getSetCookie().map((c) => c.split(';')[0])].join('; ');
  if (!cookie.includes('session-token')) throw new Error('bench: manager sign-in failed');
  return {
    base,
    cookie,
    pid: child.pid!,
    stop: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
  };
}

/** Time to first byte of a GET, in ms. */
export async function ttfb(url: string, cookie: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(url, { headers: { cookie } });
  const reader = res.body!.getReader();
  await reader.read();
  const first = performance.now() - t;
  await reader.cancel();
  if (res.status !== 200) throw new Error(`GET ${url} → ${res.status}`);
  return first;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** The JavaScript a first visit to a page loads: every <script src> chunk, gzip-compressed. */
export async function firstLoadJsGzipKb(url: string, cookie: string, base: string): Promise<number> {
  const html = await (await fetch(url, { headers: { cookie } })).text();
  const sources = [...new Set([...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]!))];
  let total = 0;
  for (const src of sources) total += gzipSync(Buffer.from(await (await fetch(new URL(src, base))).arrayBuffer())).length;
  return total / 1024;
}
