import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './testing/cli-runner';

/**
 * The CLI run as a user runs it (`node bin/registrar.mjs …`), against a fake Registrar: a loopback
 * HTTP server whose answers each test chooses. It reaches what the real server will not do on
 * demand — a 409 on the second change of an apply, a sync that fails, a client id shaped like a
 * spreadsheet formula — and records every request, so a test can say which host saw which token.
 * (cli.test.ts runs the CLI against the real route handlers.)
 */


type Seen = { method: string; path: string; authorization: string | null; body: unknown };
type Answer = { status: number; body?: unknown };
type Route = (req: Seen) => Answer | undefined;

/** A fake /api/v1: `route` answers (undefined: 404), `seen` lists every request. */
class FakeRegistrar {
  seen: Seen[] = [];
  route: Route = () => undefined;
  private server: Server = createServer((req, res) => void this.handle(req).then(({ status, body }) => {
    res.writeHead(status, { 'content-type': status < 400 ? 'application/json' : 'application/problem+json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }));

  get url() {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  stop() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<Answer> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const seen: Seen = { method: req.method ?? '', path: (req.url ?? '').replace(/^\/api\/v1/, ''), authorization: req.headers.authorization ?? null, body: text ? JSON.parse(text) : undefined };
    this.seen.push(seen);
    return this.route(seen) ?? problem(404, 'NOT_FOUND', `No route for ${seen.method} ${seen.path}`);
  }
}

const problem = (status: number, code: string, detail: string): Answer => ({ status, body: { type: `https://registrar.example/problems#problem-${code}`, title: code, status, code, detail } });
/** A list endpoint's answer: one page holding everything. */
const page = (items: unknown[]): Answer => ({ status: 200, body: { items, total: items.length, page: 1, pageSize: 100 } });
const isList = (req: Seen, resource: string) => req.method === 'GET' && new RegExp(`^/${resource}(\\?|$)`).test(req.path);

let a: FakeRegistrar;
let b: FakeRegistrar;
let home: string;

type Run = CliRun;

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runCli(args, { home: home, env, timeoutMs: 30_000 });
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'registrar-cli-safety-'));
  [a, b] = await Promise.all([new FakeRegistrar().start(), new FakeRegistrar().start()]);
});

afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
});

beforeEach(() => {
  for (const s of [a, b]) {
    s.seen = [];
    s.route = () => undefined;
  }
});

describe('the saved token goes only to the server it was saved for', () => {
  let config: string;
  const saved = `rgt_${'s'.repeat(43)}`;
  const other = `rgt_${'o'.repeat(43)}`;

  beforeAll(async () => {
    // What `registrar login --url <a> --token <saved>` leaves behind.
    config = path.join(home, 'login.json');
    await writeFile(config, JSON.stringify({ url: a.url, token: saved }), { mode: 0o600 });
  });

  beforeEach(() => {
    for (const s of [a, b]) s.route = (req) => (isList(req, 'registrations') ? page([]) : undefined);
  });

  it('REGISTRAR_URL naming another host, without REGISTRAR_TOKEN: refused before any request, saying to set REGISTRAR_TOKEN', async () => {
    const res = await cli(['registrations', 'list'], { REGISTRAR_CONFIG: config, REGISTRAR_URL: b.url });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`REGISTRAR_URL (${b.url}) is not the server you logged in to (${a.url})`);
    expect(res.stderr).toContain('Set REGISTRAR_TOKEN');
    expect(b.seen).toEqual([]);
    expect(a.seen).toEqual([]);
  });

  it('REGISTRAR_URL naming the saved server, spelled differently (trailing slash, upper-case scheme, dot segments): the saved token is used', async () => {
    const port = new URL(a.url).port;
    for (const spelling of [`${a.url}/`, `HTTP://127.0.0.1:${port}/api/..`]) {
      const res = await cli(['registrations', 'list', '--format', 'json'], { REGISTRAR_CONFIG: config, REGISTRAR_URL: spelling });
      expect(res.code, res.stderr).toBe(0);
    }
    expect(a.seen.map((r) => r.authorization)).toEqual([`Bearer ${saved}`, `Bearer ${saved}`]);
  });

  it('REGISTRAR_URL and REGISTRAR_TOKEN together: that token, and the saved one never leaves', async () => {
    const res = await cli(['registrations', 'list', '--format', 'json'], { REGISTRAR_CONFIG: config, REGISTRAR_URL: b.url, REGISTRAR_TOKEN: other });
    expect(res.code, res.stderr).toBe(0);
    expect(b.seen.map((r) => r.authorization)).toEqual([`Bearer ${other}`]);
    expect(a.seen).toEqual([]);
  });
});

describe('CSV output', () => {
  it('defuses cells a spreadsheet would run as formulas (= + - @ tab), as the server’s CSV export does; table and JSON show the values as they are', async () => {
    const row = {
      id: 'r-1',
      healthSystemName: '@SUM(1+1)',
      issuerUrl: 'https://fhir.example/r4',
      environment: '-production',
      appName: '+Charts',
      clientId: '=HYPERLINK("https://evil.example","open")',
      authMethod: 'client_secret_basic',
      status: 'active',
      secretExpiresAt: null,
      expiryState: '\tnone',
    };
    a.route = (req) => (isList(req, 'registrations') ? page([row]) : undefined);
    const env = { REGISTRAR_URL: a.url, REGISTRAR_TOKEN: 'rgt_x' };

    const csv = await cli(['registrations', 'list', '--format', 'csv'], env);
    expect(csv.code, csv.stderr).toBe(0);
    const line = csv.stdout.split('\r\n')[1];
    expect(line).toBe(`r-1,'@SUM(1+1),https://fhir.example/r4,'-production,'+Charts,"'=HYPERLINK(""https://evil.example"",""open"")",client_secret_basic,active,'\tnone,'\tnone`);

    const table = await cli(['registrations', 'list'], env);
    expect(table.stdout).toContain('=HYPERLINK("https://evil.example","open")');
    expect(table.stdout).not.toContain(`'=HYPERLINK`);
    const json = await cli(['registrations', 'list', '--format', 'json'], env);
    expect(JSON.parse(json.stdout).items[0].clientId).toBe(row.clientId);
  });
});

describe('registrar apply against a fake Registrar', () => {
  const env = () => ({ REGISTRAR_URL: a.url, REGISTRAR_TOKEN: 'rgt_x' });

  describe('a change that fails part-way', () => {
    let file: string;

    beforeAll(async () => {
      file = path.join(home, 'two-systems.yaml');
      await writeFile(file, toYaml({ healthSystems: [{ name: 'First' }, { name: 'Second' }] }));
    });

    /** An empty Registrar where the first health system is created and the second is refused with a 409. */
    const firstCreatedSecondConflicts = () => {
      a.route = (req) => {
        if (req.method === 'GET') return page([]);
        if (req.method === 'POST' && req.path === '/health-systems') {
          const { name } = req.body as { name: string };
          return name === 'First' ? { status: 201, body: { id: 'hs-first', name } } : problem(409, 'CONFLICT', `A health system named “${name}” already exists.`);
        }
        return undefined;
      };
    };

    it('--format json --yes: the summary still prints, marked applied "partial", with the log, the failed action and its error; exit 1', async () => {
      firstCreatedSecondConflicts();
      const res = await cli(['apply', file, '--yes', '--format', 'json'], env());
      expect(res.code).toBe(1);
      const summary = JSON.parse(res.stdout);
      expect(summary).toMatchObject({
        changes: 2,
        applied: 'partial',
        log: ['+ created health system “First” (hs-first)'],
        failed: { action: { kind: 'healthSystem', op: 'create', name: 'Second' }, error: { code: 'CONFLICT', status: 409, message: 'A health system named “Second” already exists.' } },
      });
      expect(res.stderr).toContain('(CONFLICT, HTTP 409)');
      expect(a.seen.filter((r) => r.method === 'POST').map((r) => (r.body as { name: string }).name)).toEqual(['First', 'Second']);
    });

    it('text --yes: names the change that failed and lists what was already done; exit 1', async () => {
      firstCreatedSecondConflicts();
      const res = await cli(['apply', file, '--yes'], env());
      expect(res.code).toBe(1);
      expect(res.stdout).toContain('+ created health system “First” (hs-first)');
      expect(res.stdout).toContain('Failed at + health system “Second”: A health system named “Second” already exists. (CONFLICT, HTTP 409)');
      expect(res.stdout).toMatch(/Already done \(1 of 2 changes\):\n {2}\+ health system “First”\n/);
      expect(res.stdout).toContain('Not applied: that change.');
      expect(res.stdout).not.toContain('Applied.');
      expect(res.stderr).toContain('(CONFLICT, HTTP 409)');
    });

    it('when the very first change fails, JSON says applied false (nothing was done), with the failure', async () => {
      a.route = (req) => (req.method === 'GET' ? page([]) : problem(503, 'UNAVAILABLE', 'Down for maintenance.'));
      const res = await cli(['apply', file, '--yes', '--format', 'json'], env());
      expect(res.code).toBe(1);
      expect(JSON.parse(res.stdout)).toMatchObject({ applied: false, log: [], failed: { action: { name: 'First' }, error: { status: 503 } } });
      const text = await cli(['apply', file, '--yes'], env());
      expect(text.stdout).toContain('No change was made before it.');
      expect(text.stdout).toContain('Not applied: that change and the 1 after it.');
    });
  });

  describe('a registration whose drift cannot be checked', () => {
    const app = { name: 'Charts', softwareId: 'com.example.charts', environments: { production: { redirectUris: ['https://charts.example.com/callback'], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'openid launch/patient' } } };
    const issuerUrl = 'https://fhir.general.example/r4';
    let file: string;

    beforeAll(async () => {
      file = path.join(home, 'in-sync.yaml');
      await writeFile(file, toYaml({ healthSystems: [{ name: 'General', issuers: [{ url: issuerUrl, environment: 'production' }] }], apps: [app], registrations: [{ app: app.softwareId, issuer: issuerUrl, environment: 'production' }] }));
    });

    /** Registrar holds exactly what the file declares; `sync` answers the drift check. */
    const inventoryWith = (sync: Answer) => {
      a.route = (req) => {
        if (isList(req, 'health-systems')) return page([{ id: 'hs-1', name: 'General' }]);
        if (isList(req, 'issuers')) return page([{ id: 'iss-1', inputUrl: issuerUrl, issuer: issuerUrl, healthSystemId: 'hs-1', healthSystemName: 'General', environment: 'production' }]);
        if (isList(req, 'apps')) return page([{ id: 'app-1', softwareId: app.softwareId, currentVersion: 1, profile: app }]);
        if (isList(req, 'registrations')) return page([{ id: 'reg-1', appId: 'app-1', appName: app.name, issuerId: 'iss-1', issuerUrl, environment: 'production', clientId: 'client-1', managed: true, status: 'active' }]);
        // The registration's overrides (none) are read from its representation.
        if (req.method === 'GET' && req.path === '/registrations/reg-1') return { status: 200, body: { id: 'reg-1', overrides: null, metadata: { requested: {}, registered: {} } } };
        if (req.method === 'POST' && req.path === '/registrations/reg-1/sync') return sync;
        return undefined;
      };
    };

    it('control: when the check succeeds and nothing differs, nothing to do (exit 0 with --detailed-exitcode)', async () => {
      inventoryWith({ status: 200, body: { appVersion: 1, diff: [{ field: 'scope', server: '"openid launch/patient"', profile: '"openid launch/patient"', differs: false }] } });
      const res = await cli(['apply', file, '--detailed-exitcode'], env());
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(res.stdout).toContain('Nothing to do.');
      expect(res.stderr).toBe('');
    });

    for (const [why, sync] of [
      ['a read-only token (403)', problem(403, 'FORBIDDEN', 'This API token does not grant registrations:write.')],
      ['a token the server does not accept (401)', problem(401, 'UNAUTHENTICATED', 'The API token is not known.')],
      ['a hospital outage (502)', problem(502, 'UPSTREAM_ERROR', 'The hospital’s registration endpoint did not answer.')],
    ] as const) {
      it(`${why}: reported as not checked, never "in sync"; --detailed-exitcode exits 4, without it 0 with a warning`, async () => {
        inventoryWith(sync);
        const detailed = await cli(['apply', file, '--detailed-exitcode'], env());
        expect(detailed.code, detailed.stderr + detailed.stdout).toBe(4);
        expect(detailed.stdout).toContain(`! registration Charts @ ${issuerUrl} [production] client client-1: drift not checked: ${(sync.body as { detail: string }).detail}`);
        expect(detailed.stdout).toMatch(/Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged, 1 not checked\./);
        expect(detailed.stdout).not.toContain('Nothing to do.\n');
        expect(detailed.stdout).toContain('drift was NOT checked for 1 registration');
        expect(detailed.stderr).toContain('Warning: drift could not be checked for 1 registration');

        const plain = await cli(['apply', file], env());
        expect(plain.code, plain.stderr).toBe(0);
        expect(plain.stderr).toContain('Warning: drift could not be checked for 1 registration');

        const json = await cli(['apply', file, '--format', 'json', '--detailed-exitcode'], env());
        expect(json.code).toBe(4);
        const summary = JSON.parse(json.stdout);
        expect(summary).toMatchObject({ changes: 0, unchecked: 1, applied: false });
        expect(summary.actions.find((x: { kind: string }) => x.kind === 'registration')).toMatchObject({ op: 'unchecked', id: 'reg-1', error: { status: (sync.body as { status: number }).status } });
      });
    }

    it('not checked outweighs changes to make: exit 4, not 2', async () => {
      inventoryWith(problem(403, 'FORBIDDEN', 'This API token does not grant registrations:write.'));
      const more = path.join(home, 'in-sync-plus-one.yaml');
      await writeFile(more, toYaml({ healthSystems: [{ name: 'General', issuers: [{ url: issuerUrl, environment: 'production' }] }, { name: 'New Hospital' }], apps: [app], registrations: [{ app: app.softwareId, issuer: issuerUrl, environment: 'production' }] }));
      const res = await cli(['apply', more, '--detailed-exitcode'], env());
      expect(res.code, res.stdout).toBe(4);
      expect(res.stdout).toContain('+ health system “New Hospital”');
      expect(res.stdout).toMatch(/Plan: 1 to create, .* 1 not checked\./);
    });
  });
});
