import { spawn } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Time from `npm start` (no DATABASE_URL: embedded PostgreSQL) to the first answered HTTP request,
 * for a fresh data directory (initdb included) and for a second start on the same data.
 */
export async function benchStartup(): Promise<Array<{ label: string; ms: number }>> {
  if (!existsSync(path.resolve('.next/BUILD_ID'))) {
    throw new Error('No production build: run `npm run build` first (npm run bench does not build).');
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'registrar-bench-'));
  try {
    const cold = await timeFirstResponse(dataDir, 3190, 54369);
    const warm = await timeFirstResponse(dataDir, 3190, 54369);
    return [
      { label: 'npm start → first response, fresh data dir (initdb + migrate)', ms: cold },
      { label: 'npm start → first response, existing data dir', ms: warm },
    ];
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function timeFirstResponse(dataDir: string, port: number, pgPort: number): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), REGISTRAR_DATA_DIR: dataDir, REGISTRAR_EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  const started = performance.now();
  const child = spawn('npm', ['start'], { env, stdio: 'ignore', detached: true });
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        if ((await statusOf(port, '/signin')) < 500) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('The app did not answer within 60 s');
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await waitUntilClosed(port);
  }
}

async function waitUntilClosed(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await statusOf(port, '/api/health');
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Port ${port} is still answering after the app was stopped`);
}

/**
 * One GET on a connection of its own, closed after the answer: a kept-alive connection (fetch's
 * default) would keep answering, and keep the server from closing, while the app shuts down.
 */
function statusOf(port: number, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timed out')));
  });
}
