import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from './embedded';

const root = mkdtempSync(path.join(tmpdir(), 'registrar-embedded-'));
// As root, PostgreSQL runs as `postgres`, which must be able to enter the folders above its data.
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('startEmbeddedPostgres', () => {
  it('a cluster that cannot start says what PostgreSQL reported, not only "is the port taken"', async () => {
    // A data directory that claims a cluster (PG_VERSION) but holds nothing else: PostgreSQL refuses it.
    const dataDir = path.join(root, 'broken');
    mkdirSync(path.join(dataDir, 'postgres'), { recursive: true });
    writeFileSync(path.join(dataDir, 'postgres', 'PG_VERSION'), '17\n');
    const error = await startEmbeddedPostgres({ dataDir, port: 54397, database: 'postgres' }).then(
      () => new Error('it started'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain('did not start on 127.0.0.1:54397');
    expect(error.message).toMatch(/PostgreSQL said: .*(FATAL|could not)/);
  }, 60_000);
});

describe('startEmbeddedPostgres under a parent folder others cannot enter', () => {
  it('makes the project’s folders on the way traversable (o+x only) and starts', async () => {
    // Inside the project, as `.data` is: a folder some tool created 0700 (as root, PostgreSQL runs as `postgres`).
    const locked = mkdtempSync(path.join(process.cwd(), '.data-locked-'));
    try {
      chmodSync(locked, 0o700);
      const db = await startEmbeddedPostgres({ dataDir: path.join(locked, 'inner'), port: 54396, database: 'postgres' });
      try {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        expect((await client.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
        await client.end();
      } finally {
        await db.stop();
      }
      // Entered, not listed: only the execute bit for others was added.
      if (process.getuid?.() === 0) expect(statSync(locked).mode & 0o777).toBe(0o701);
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  }, 90_000);
});

/** A script process that started the embedded server; `stop()` has it stop the server as scripts do, and exit. */
async function scriptWithServer(dataDir: string, port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=react-server', 'test/support/embedded-child.ts', dataDir, String(port)], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /url (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`the script ended before its server started: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      child.stdin.write('stop\n');
      return { code: await exited, out };
    },
  };
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('a script stopping the embedded PostgreSQL it started', () => {
  it('leaves it running while another process (the app, started meanwhile) uses it; stops it when nobody does', { timeout: 120_000 }, async () => {
    const dataDir = path.join(root, 'shared');
    const script = await scriptWithServer(dataDir, 54386);
    // The app started while the script ran: it found the server up and uses it.
    const app = new pg.Client({ connectionString: script.url });
    await app.connect();
    const stopped = await script.stop();
    expect(stopped.code).toBe(0);
    expect((await app.query('select 1 as ok')).rows[0].ok).toBe(1);
    await app.end();

    // Nobody else connected: the next script to finish stops it (it reuses the running server first).
    const pid = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 50 && (await reachable(script.url)); i++) await new Promise((r) => setTimeout(r, 200));
    const again = await scriptWithServer(dataDir, 54386);
    await again.stop();
    expect(await reachable(again.url)).toBe(false);
  });
});
