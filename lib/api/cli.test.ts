import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { registrations } from '@/db/schema';
import { resetEnvCache } from '@/lib/env';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { call, makeToken } from './testing/client';
import { serveApi } from './testing/routes';
import { REPO_ROOT, runCli, type CliRun } from './testing/cli-runner';

/**
 * The CLI as a user runs it: `node bin/registrar.mjs …` in a child process, talking HTTP to the
 * /api/v1 route handlers served in this process by a loopback shim (the same handlers Next.js
 * runs; no build needed), against the sandbox hospitals.
 */

const ROOT = REPO_ROOT;

let server: Awaited<ReturnType<typeof serveApi>>;
let sandbox: Sandbox;
let other: Sandbox;
let ops: Awaited<ReturnType<typeof makeToken>>;
let configHome: string;

type Run = CliRun;

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runCli(args, { home: configHome, env, timeoutMs: 60_000 });
}

const jwksRoute = () => import('@/app/api/jwks/[appId]/[environment]/route');

beforeAll(async () => {
  configHome = await mkdtemp(path.join(os.tmpdir(), 'registrar-cli-'));
  server = await serveApi({
    other: async (request) => {
      const m = /^\/api\/jwks\/([^/]+)\/([^/]+)$/.exec(new URL(request.url).pathname);
      if (!m) return new Response('not found', { status: 404 });
      // Decoded, as Next.js hands dynamic segments to route handlers.
      return (await jwksRoute()).GET(request, { params: Promise.resolve({ appId: m[1]!, environment: decodeURIComponent(m[2]!) }) });
    },
  });
  // Registrar's JWKS URL must be reachable by the sandbox (Mercy fetches jwks_uri).
  process.env.REGISTRAR_PUBLIC_URL = server.url;
  // Many CLI runs share one token here; the limit itself is tested in auth.test.ts.
  process.env.REGISTRAR_API_RATE_LIMIT = '100000';
  resetEnvCache();
  [sandbox, other] = await Promise.all([startSandbox({ log: () => {}, generalSecretTtlSeconds: 90 * 86_400 }), startSandbox({ log: () => {}, generalSecretTtlSeconds: 90 * 86_400 })]);
  const admin = await insertUser({ role: 'admin' });
  for (const s of [sandbox, other]) {
    for (const origin of [s.general.origin, s.mercy.origin, s.epic.origin]) await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  }
  ops = await makeToken('ops', { name: 'cli' });
});

afterAll(async () => {
  await Promise.all([sandbox.stop(), other.stop()]);
  await server.close();
  await closeDb();
});

const asOps = { REGISTRAR_URL: '', REGISTRAR_TOKEN: '' };

describe('registrar login', () => {
  it('checks the token, then saves URL and token in the user’s config dir with mode 0600', async () => {
    const bad = await cli(['login', '--url', server.url, '--token', `rgt_${'x'.repeat(43)}`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not known.*UNAUTHENTICATED, HTTP 401/);
    await expect(stat(path.join(configHome, 'registrar/config.json'))).rejects.toThrow();

    const ok = await cli(['login', '--url', server.url, '--token', ops.token]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('“cli” (ops:');
    const file = path.join(configHome, 'registrar/config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: server.url, token: ops.token });
    // Later commands use it.
    expect((await cli(['issuers', 'list', '--format', 'json'], asOps)).code).toBe(0);
  });

  it('without a login, says how to log in', async () => {
    const res = await cli(['issuers', 'list'], { XDG_CONFIG_HOME: path.join(configHome, 'empty'), HOME: path.join(configHome, 'empty') });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('registrar login');
  });
});

describe('registrar issuers, registrations and diagnose', () => {
  const env = () => ({ REGISTRAR_URL: server.url, REGISTRAR_TOKEN: ops.token });

  it('issuers add (by health system name), list in three formats, refresh', async () => {
    const name = `CLI Hospital ${uniqueSuffix()}`;
    expect((await call('POST', '/health-systems', { token: ops.token, body: { name } })).status).toBe(201);
    const added = await cli(['issuers', 'add', '--health-system', name, '--url', other.general.fhirBase, '--environment', 'sandbox'], env());
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/registration endpoint\s+http:\/\/127\.0\.0\.1:\d+\/reg \((smart|openid)/);
    const json = await cli(['issuers', 'list', '--format', 'json'], env());
    const list = JSON.parse(json.stdout) as Array<{ id: string; healthSystemName: string; issuer: string }>;
    const mine = list.find((i) => i.healthSystemName === name)!;
    expect(mine.issuer).toBe(other.general.issuer);
    const table = await cli(['issuers', 'list', '--health-system', String((list.find((i) => i.id === mine.id) as { healthSystemId?: string }).healthSystemId ?? '')], env());
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+health system\s+environment\s+issuer\s+dynamic registration$/);
    expect(table.stdout).toContain(other.general.issuer);
    const csv = await cli(['issuers', 'list', '--format', 'csv'], env());
    expect(csv.stdout.split('\r\n')[0]).toBe('id,health system,environment,issuer,dynamic registration');
    expect(csv.stdout).toContain(`${mine.id},${name},sandbox,${other.general.issuer},yes`);
    const refreshed = await cli(['issuers', 'refresh', mine.id], env());
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(refreshed.stdout).toMatch(/outcome\s+ok/);
  });

  it('registrations list / show / refresh, and an API error is reported with its code', async () => {
    const apps = await call('POST', '/apps', {
      token: ops.token,
      body: { name: `CLI App ${uniqueSuffix()}`, softwareId: `com.example.cli.${uniqueSuffix()}`, environments: { production: { redirectUris: ['https://app.example.com/callback'], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'openid launch/patient' } } },
    });
    const issuerId = ((await call('GET', '/issuers?pageSize=100', { token: ops.token })).body as { items: Array<{ id: string; issuer: string }> }).items.find((i) => i.issuer === other.general.issuer)!.id;
    const reg = await call('POST', '/registrations', { token: ops.token, body: { issuerId, appId: (apps.body as { id: string }).id, environment: 'production' }, headers: { 'Idempotency-Key': randomUUID() } });
    expect(reg.status).toBe(201);
    const { id, clientId } = reg.body as { id: string; clientId: string };

    const list = await cli(['registrations', 'list', '--app', (apps.body as { id: string }).id], env());
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(clientId);
    const csv = await cli(['registrations', 'list', '--app', (apps.body as { id: string }).id, '--format', 'csv'], env());
    expect(csv.stdout.split('\r\n')).toHaveLength(3);
    const json = JSON.parse((await cli(['registrations', 'list', '--app', (apps.body as { id: string }).id, '--format', 'json'], env())).stdout);
    expect(json).toMatchObject({ total: 1, items: [{ id, clientId }] });
    // --q=VALUE: a client id may start with '-' (node-oidc-provider's are random base64url), which parseArgs would take for an option.
    const listAll = await cli(['registrations', 'list', '--all', '--format', 'json', `--q=${clientId}`], env());
    // Once (under a full parallel run) this printed nothing on stdout; the code and stderr say why next time.
    expect(listAll.code, listAll.stderr).toBe(0);
    expect(JSON.parse(listAll.stdout)).toMatchObject([{ id }]);

    const show = await cli(['registrations', 'show', id], env());
    expect(show.stdout).toMatch(/client id\s+\S+/);
    expect(show.stdout).toMatch(/redirect uris\s+https:\/\/app\.example\.com\/callback/);
    expect(JSON.parse((await cli(['registrations', 'show', id, '--format', 'json'], env())).stdout).id).toBe(id);

    const refresh = await cli(['registrations', 'refresh', id], env());
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(refresh.stdout).toContain('matches Registrar’s');

    const missing = await cli(['registrations', 'show', randomUUID()], env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist\. \(NOT_FOUND, HTTP 404\)/);
    const badFilter = await cli(['registrations', 'list', '--page-size', '7'], env());
    expect(badFilter.code).toBe(1);
    expect(badFilter.stderr).toMatch(/INVALID, HTTP 400/);
  });

  it('diagnose redirect-uri: exit 0 on a match, 3 with the differences otherwise', async () => {
    const match = await cli(['diagnose', 'redirect-uri', '--presented', 'http://127.0.0.1:5555/cb', '--registered', 'http://127.0.0.1:8080/cb'], env());
    expect(match.code, match.stderr).toBe(0);
    expect(match.stdout).toMatch(/^MATCH \(loopback-port-match\)/);
    expect(match.stdout).toContain('LOOPBACK_PORT_ALLOWED');
    const miss = await cli(['diagnose', 'redirect-uri', '--presented', 'https://app.example.com/cb/', '--registered', 'https://app.example.com/other', '--registered', 'https://app.example.com/cb'], env());
    expect(miss.code).toBe(3);
    expect(miss.stdout).toMatch(/^NO MATCH/);
    expect(miss.stdout).toContain('closest:    "https://app.example.com/cb"');
    expect(miss.stdout).toContain('TRAILING_SLASH');
    // Nothing to compare with is a usage error, not a misleading NO MATCH (exit 3).
    const none = await cli(['diagnose', 'redirect-uri', '--presented', 'https://a.example/cb', '--format', 'json'], env());
    expect(none.code).not.toBe(3);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/--presented needs what to compare it with: --registered URI \(repeatable\), or --client-id ID/);
  });
});

describe('registrar apply', () => {
  const suffix = uniqueSuffix();
  let file: string;
  let env: Record<string, string>;

  const inventory = (portalRedirect = 'https://app.example.com/portal/callback') => ({
    version: 1,
    healthSystems: [
      { name: `General ${suffix}`, issuers: [{ url: sandbox.general.fhirBase, environment: 'sandbox' }] },
      { name: `Mercy ${suffix}`, issuers: [{ url: sandbox.mercy.fhirBase, environment: 'sandbox' }] },
      { name: `Epic ${suffix}`, issuers: [{ url: sandbox.epic.fhirBase, environment: 'non-production', epicClientId: 'epic-app-nonprod' }] },
    ],
    apps: [
      {
        name: `Portal ${suffix}`,
        softwareId: `com.example.portal.${suffix}`,
        softwareVersion: '2.1.0',
        clientUri: 'https://app.example.com',
        contacts: ['ops@example.com'],
        environments: {
          production: { redirectUris: [portalRedirect], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'openid fhirUser launch/patient patient/Observation.rs' },
          staging: { redirectUris: ['https://app.example.com/staging/callback'], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'openid launch/patient' },
        },
      },
      {
        name: `Backend ${suffix}`,
        softwareId: `com.example.backend.${suffix}`,
        environments: {
          production: { redirectUris: ['https://app.example.com/backend/callback'], grantTypes: ['authorization_code', 'client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'ES384', scope: 'system/Patient.rs' },
        },
      },
      {
        name: `Epic App ${suffix}`,
        softwareId: `com.example.epic.${suffix}`,
        environments: { 'non-production': { redirectUris: ['https://app.example.com/epic/callback'], tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' } },
      },
    ],
    registrations: [
      { app: `com.example.portal.${suffix}`, issuer: sandbox.general.fhirBase, environment: 'production' },
      { app: `Backend ${suffix}`, issuer: sandbox.mercy.fhirBase, environment: 'production', initialAccessToken: '${MERCY_IAT}' },
      { app: `com.example.epic.${suffix}`, issuer: sandbox.epic.fhirBase, environment: 'non-production', initialAccessTokenEnv: 'EPIC_IAT' },
    ],
  });

  const regsOf = async (softwareIdPart: string) => {
    const all = ((await call('GET', `/registrations?q=${encodeURIComponent(softwareIdPart)}&pageSize=100`, { token: ops.token })).body as { items: Array<{ id: string; appName: string; status: string; environment: string; clientId: string }> }).items;
    return all;
  };

  beforeAll(async () => {
    file = path.join(configHome, `inventory-${suffix}.yaml`);
    await writeFile(file, toYaml(inventory()));
    env = { REGISTRAR_URL: server.url, REGISTRAR_TOKEN: ops.token, MERCY_IAT: await sandbox.mintInitialAccessToken('mercy'), EPIC_IAT: await sandbox.mintInitialAccessToken('epic') };
  });

  it('from an empty inventory, plans every create (exit 2 with --detailed-exitcode) and changes nothing', async () => {
    const res = await cli(['apply', file, '--detailed-exitcode'], env);
    expect(res.code, res.stderr + res.stdout).toBe(2);
    expect(res.stdout).toContain(`+ health system “General ${suffix}”`);
    expect(res.stdout).toContain(`+ issuer ${sandbox.mercy.fhirBase} (sandbox) in “Mercy ${suffix}”`);
    expect(res.stdout).toContain(`+ app “Portal ${suffix}” (com.example.portal.${suffix})`);
    expect(res.stdout).toContain(`+ registration Portal ${suffix} @ ${sandbox.general.fhirBase} [production]`);
    expect(res.stdout).toMatch(/Plan: 12 to create, 0 to update, 0 to delete, 0 unchanged/);
    expect(res.stdout).toContain('Run again with --yes to apply.');
    expect(await regsOf(suffix)).toEqual([]);
    // Without --detailed-exitcode a plan with changes is still a success.
    expect((await cli(['apply', file], env)).code).toBe(0);
  });

  it('applies: registers at General, Mercy (initial access token from the environment) and Epic', async () => {
    const res = await cli(['apply', file, '--yes'], env);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toContain('Applied.');
    expect(res.stdout).toMatch(new RegExp(`\\+ registered Portal ${suffix} @ .* \\[production\\]: client \\S+ \\(client_secret_basic, secret expires \\d{4}-`));
    expect(res.stdout).toMatch(new RegExp(`\\+ registered Backend ${suffix} @ .* \\[production\\]: client \\S+ \\(private_key_jwt`));
    expect(res.stdout).toMatch(new RegExp(`\\+ registered Epic App ${suffix} @ .* \\[non-production\\]: client G`));
    expect(res.stdout + res.stderr).not.toContain(env.MERCY_IAT!);
    const regs = await regsOf(suffix);
    expect(regs.map((r) => r.appName).sort()).toEqual([`Backend ${suffix}`, `Epic App ${suffix}`, `Portal ${suffix}`]);
    // private_key_jwt: the credentials are a key reference (kid and JWKS URL), never a key or a secret.
    const credentials = async (appName: string) => (await call('GET', `/registrations/${regs.find((r) => r.appName === appName)!.id}/credentials`, { token: ops.token })).body as Record<string, unknown>;
    const backend = await credentials(`Backend ${suffix}`);
    expect(backend).toMatchObject({ authMethod: 'private_key_jwt', clientSecret: null, expiryState: 'none', key: { alg: 'ES384', jwksUri: expect.stringMatching(new RegExp(`^${server.url}/api/jwks/[0-9a-f-]+/production$`)) } });
    expect(typeof (backend.key as { kid: string }).kid).toBe('string');
    const epic = await credentials(`Epic App ${suffix}`);
    expect(epic).toMatchObject({ clientSecret: null, key: { alg: 'RS384', jwksUri: null } });
    expect(JSON.stringify([backend, epic])).not.toMatch(/"d":|PRIVATE KEY/);
    const portal = await credentials(`Portal ${suffix}`);
    expect(portal).toMatchObject({ authMethod: 'client_secret_basic', key: null, clientSecret: expect.any(String) });
  });

  it('a second apply plans nothing (exit 0 even with --detailed-exitcode), without the initial access tokens', async () => {
    const res = await cli(['apply', file, '--detailed-exitcode'], { REGISTRAR_URL: server.url, REGISTRAR_TOKEN: ops.token });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/Plan: 0 to create, 0 to update, 0 to delete, 12 unchanged/);
    expect(res.stdout).toContain('Nothing to do.');
    const json = JSON.parse((await cli(['apply', file, '--format', 'json', '--detailed-exitcode'], env)).stdout);
    expect(json.changes).toBe(0);
  });

  it('a token that may read but not sync (support): drift is reported as not checked, never as in sync; --detailed-exitcode exits 4', async () => {
    const support = await makeToken('support', { name: `cli-support-${suffix}` });
    const asSupport = { REGISTRAR_URL: server.url, REGISTRAR_TOKEN: support.token };
    const res = await cli(['apply', file, '--detailed-exitcode'], asSupport);
    expect(res.code, res.stderr + res.stdout).toBe(4);
    // General and Mercy are managed (RFC 7592) and need the sync, which a support token may not call; Epic is not managed.
    expect(res.stdout).toMatch(new RegExp(`! registration Portal ${suffix} @ .* client \\S+: drift not checked: .*HTTP 403`));
    expect(res.stdout).toMatch(new RegExp(`! registration Backend ${suffix} @ .* client \\S+: drift not checked: .*HTTP 403`));
    expect(res.stdout).toMatch(/Plan: 0 to create, 0 to update, 0 to delete, 10 unchanged, 2 not checked[.;]/);
    expect(res.stdout).not.toContain('Nothing to do.\n');
    expect(res.stderr).toContain('Warning: drift could not be checked for 2 registrations');
    // Without --detailed-exitcode, still a success, with the warning.
    const plain = await cli(['apply', file], asSupport);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('Warning: drift could not be checked');
  });

  it('a changed redirect URI in the file plans exactly one registration update (and the app profile version carrying it), then applies it', async () => {
    await writeFile(file, toYaml(inventory('https://app.example.com/portal/callback-v2')));
    const res = await cli(['apply', file, '--detailed-exitcode', '--format', 'json'], env);
    expect(res.code, res.stderr).toBe(2);
    const planned = JSON.parse(res.stdout) as { changes: number; actions: Array<{ kind: string; op: string; app?: string; name?: string; changes?: Array<{ field: string; from: unknown; to: unknown }> }> };
    const changes = planned.actions.filter((a) => a.op !== 'noop');
    expect(changes.map((a) => `${a.kind}:${a.op}`)).toEqual(['app:update', 'registration:update']);
    const regUpdate = changes[1]!;
    expect(regUpdate.app).toBe(`Portal ${suffix}`);
    expect(regUpdate.changes).toEqual([{ field: 'redirect_uris', from: ['https://app.example.com/portal/callback'], to: ['https://app.example.com/portal/callback-v2'] }]);
    expect(changes[0]!.changes!.map((c) => c.field)).toEqual(['environments.production.redirectUris']);

    const text = await cli(['apply', file], env);
    expect(text.stdout).toContain(`~ registration Portal ${suffix} @ ${sandbox.general.fhirBase} [production]`);
    expect(text.stdout).toContain('redirect_uris: ["https://app.example.com/portal/callback"] → ["https://app.example.com/portal/callback-v2"]');
    expect(text.stdout).toMatch(/Plan: 0 to create, 2 to update, 0 to delete, 10 unchanged/);

    const applied = await cli(['apply', file, '--yes'], env);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toMatch(/~ updated Portal .* redirect_uris/);
    const portal = (await regsOf(suffix)).find((r) => r.appName === `Portal ${suffix}`)!;
    const [row] = await getDb().select({ m: registrations.registeredMetadata }).from(registrations).where(eq(registrations.id, portal.id));
    expect(row!.m.redirect_uris).toEqual(['https://app.example.com/portal/callback-v2']);
    const again = await cli(['apply', file, '--detailed-exitcode'], env);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('Nothing to do.');
  });

  it('a registration of a declared app that the file does not list is reported, and deleted only with --prune', async () => {
    const portal = (await regsOf(suffix)).find((r) => r.appName === `Portal ${suffix}`)!;
    const detail = (await call('GET', `/registrations/${portal.id}`, { token: ops.token })).body as { appId: string; issuerId: string };
    const extra = await call('POST', '/registrations', { token: ops.token, body: { issuerId: detail.issuerId, appId: detail.appId, environment: 'staging' }, headers: { 'Idempotency-Key': randomUUID() } });
    expect(extra.status).toBe(201);
    const extraId = (extra.body as { id: string }).id;

    const reported = await cli(['apply', file, '--detailed-exitcode'], env);
    expect(reported.code, reported.stdout).toBe(0);
    expect(reported.stdout).toMatch(/\? registration Portal .* \[staging\] client \S+ exists but is not in the file \(kept; --prune deletes it\)/);
    expect(reported.stdout).toContain('1 not in the file (kept)');

    const pruning = await cli(['apply', file, '--prune', '--detailed-exitcode'], env);
    expect(pruning.code).toBe(2);
    expect(pruning.stdout).toMatch(/- registration Portal .* \[staging\]/);
    expect(((await call('GET', `/registrations/${extraId}`, { token: ops.token })).body as { status: string }).status).toBe('active');

    const pruned = await cli(['apply', file, '--prune', '--yes'], env);
    expect(pruned.code, pruned.stderr + pruned.stdout).toBe(0);
    expect(((await call('GET', `/registrations/${extraId}`, { token: ops.token })).body as { status: string }).status).toBe('deleted');
    expect((await cli(['apply', file, '--prune', '--detailed-exitcode'], env)).code).toBe(0);
  });

  it('a file with mistakes is refused with every problem listed (exit 1), before any request', async () => {
    const bad = path.join(configHome, 'bad.yaml');
    await writeFile(bad, toYaml({ healthSystems: [{ issuers: [{ url: 'https://x.example/fhir' }] }], apps: [], registrations: [{ app: 'nope', issuer: 'https://y.example', environment: 'prod' }], extra: 1 }));
    const res = await cli(['apply', bad], env);
    expect(res.code).toBe(1);
    for (const m of ['extra: unknown top-level key', 'healthSystems[0].name: required', 'healthSystems[0].issuers[0].environment: required', 'registrations[0].app: names no app', 'registrations[0].issuer: names no issuer']) expect(res.stderr).toContain(m);
    await writeFile(bad, '{ not: yaml: [');
    expect((await cli(['apply', bad], env)).code).toBe(1);
    expect((await cli(['apply', path.join(configHome, 'missing.yaml')], env)).stderr).toContain('Cannot read');
  });

  it('a registration to create whose initial access token variable is unset fails with a clear message (exit 1)', async () => {
    const lonely = path.join(configHome, `lonely-${suffix}.json`);
    const inv = inventory();
    const app = { ...inv.apps[1]!, name: `Backend 2 ${suffix}`, softwareId: `com.example.backend2.${suffix}` };
    await writeFile(lonely, JSON.stringify({ healthSystems: [inv.healthSystems[1]], apps: [app], registrations: [{ app: app.softwareId, issuer: sandbox.mercy.fhirBase, environment: 'production', initialAccessTokenEnv: 'NOT_SET_ANYWHERE' }] }));
    const res = await cli(['apply', lonely, '--yes'], { REGISTRAR_URL: server.url, REGISTRAR_TOKEN: ops.token });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('NOT_SET_ANYWHERE');
    expect(res.stderr).toContain('Nothing was changed.');
    const apps = ((await call('GET', '/apps?pageSize=100', { token: ops.token })).body as { items: Array<{ softwareId: string }> }).items;
    expect(apps.some((a) => a.softwareId === app.softwareId)).toBe(false);
  });
});

describe('registrar apply, failing part-way', () => {
  it('reports what was done before the failure and which change failed (JSON: applied "partial"), exit 1', async () => {
    // Health systems and issuers may be written with this token, apps may not: the third change is refused.
    const narrow = await makeToken('ops', { name: 'cli-narrow', permissions: ['health-systems:read', 'health-systems:write', 'registrations:read'] });
    const suffix = uniqueSuffix();
    const file = path.join(configHome, `partial-${suffix}.yaml`);
    await writeFile(file, toYaml({
      healthSystems: [{ name: `Partial ${suffix}`, issuers: [{ url: other.mercy.fhirBase, environment: 'sandbox' }] }],
      apps: [{ name: `Partial App ${suffix}`, softwareId: `com.example.partial.${suffix}`, environments: { production: { redirectUris: ['https://app.example.com/cb'], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'openid' } } }],
    }));
    const env = { REGISTRAR_URL: server.url, REGISTRAR_TOKEN: narrow.token };

    const json = await cli(['apply', file, '--yes', '--format', 'json'], env);
    expect(json.code).toBe(1);
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({ changes: 3, applied: 'partial', failed: { action: { kind: 'app', op: 'create', softwareId: `com.example.partial.${suffix}` }, error: { status: 403 } } });
    expect(summary.log).toEqual([expect.stringContaining(`+ created health system “Partial ${suffix}”`), expect.stringContaining(`+ added issuer ${other.mercy.fhirBase}`)]);
    expect(json.stderr).toContain('HTTP 403');

    // Run again: the health system and issuer are there, the app fails first; text says nothing was done before it.
    const text = await cli(['apply', file, '--yes'], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/Plan: 1 to create, 0 to update, 0 to delete, 2 unchanged/);
    expect(text.stdout).toMatch(new RegExp(`Failed at \\+ app “Partial App ${suffix}” \\(com\\.example\\.partial\\.${suffix}\\): .*HTTP 403\\)`));
    expect(text.stdout).toContain('No change was made before it.');
    expect(text.stdout).not.toContain('Applied.');
  });
});

describe('npm run token:create', () => {
  it('prints the token alone on the last line, and it authenticates', async () => {
    const run = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '--conditions=react-server', 'scripts/token-create.ts', '--name', 'script', '--role', 'manager', '--permission', 'audit:read', '--expires-in-days', '7'],
        { cwd: ROOT, env: { ...process.env }, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    const token = lines.at(-1)!;
    expect(token).toMatch(/^rgt_[A-Za-z0-9_-]{43}$/);
    expect(lines.slice(0, -1).join('\n')).not.toContain(token);
    const me = await call('GET', '/me', { token });
    expect(me.body).toMatchObject({ name: 'script', role: 'manager', permissions: ['audit:read'] });
    expect((await call('GET', '/registrations', { token })).status).toBe(403);

    const refused = await new Promise<Run>((resolve) => {
      execFile(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '--conditions=react-server', 'scripts/token-create.ts', '--name', 'x', '--role', 'support', '--permission', 'credentials:read'], { cwd: ROOT, env: { ...process.env }, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('does not grant credentials:read');
  }, 120_000);
});
