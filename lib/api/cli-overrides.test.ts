import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, registrations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { resetEnvCache } from '@/lib/env';
import { readClientRegistration } from '@/lib/oauth/registration';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { call, makeToken } from './testing/client';
import { runCli, type CliRun } from './testing/cli-runner';
import { serveApi } from './testing/routes';

/**
 * `registrar apply` and a registration's overrides (the onboarding form's changes to the app
 * profile) once the registration exists: a change in the file is a planned change, carried out
 * with POST /registrations/{id}/sync and its `overrides`; where the hospital offers no RFC 7592
 * management (Epic) it is a change that cannot be applied. The CLI runs as a user runs it, against
 * the route handlers on loopback and the sandbox hospitals.
 */

let server: Awaited<ReturnType<typeof serveApi>>;
let sandbox: Sandbox;
let home: string;
let env: Record<string, string>;

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliRun> => runCli(args, { home, env: { ...env, ...extra }, timeoutMs: 60_000 });

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'registrar-cli-overrides-'));
  server = await serveApi();
  // Many CLI runs share one token here; the limit itself is tested in auth.test.ts.
  process.env.REGISTRAR_API_RATE_LIMIT = '100000';
  resetEnvCache();
  sandbox = await startSandbox({ log: () => {}, generalSecretTtlSeconds: 90 * 86_400 });
  const admin = await insertUser({ role: 'admin' });
  for (const origin of [sandbox.general.origin, sandbox.epic.origin]) await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  const ops = await makeToken('ops', { name: 'cli-overrides' });
  env = { REGISTRAR_URL: server.url, REGISTRAR_TOKEN: ops.token, EPIC_IAT: await sandbox.mintInitialAccessToken('epic') };
});

afterAll(async () => {
  await sandbox.stop();
  await server.close();
  await closeDb();
});

describe('registrar apply and the overrides of existing registrations', () => {
  const suffix = uniqueSuffix();
  const file = () => path.join(home, `overrides-${suffix}.yaml`);
  const portal = `com.example.portal.${suffix}`;
  const epicApp = `com.example.epic.${suffix}`;
  const profileScope = 'openid fhirUser launch/patient patient/Observation.rs';

  /** General Hospital (RFC 7592) and an Epic-like server (no management), one registration each. */
  async function writeInventory(overrides: { portal?: Record<string, unknown>; epic?: Record<string, unknown> }, portalProfile: { redirectUris: string[]; scope: string } = { redirectUris: ['https://app.example.com/portal/callback'], scope: profileScope }) {
    await writeFile(
      file(),
      toYaml({
        healthSystems: [
          { name: `General ${suffix}`, issuers: [{ url: sandbox.general.fhirBase, environment: 'sandbox' }] },
          { name: `Epic ${suffix}`, issuers: [{ url: sandbox.epic.fhirBase, environment: 'non-production', epicClientId: 'epic-app-nonprod' }] },
        ],
        apps: [
          { name: `Portal ${suffix}`, softwareId: portal, environments: { production: { ...portalProfile, tokenEndpointAuthMethod: 'client_secret_basic' } } },
          {
            name: `Epic App ${suffix}`,
            softwareId: epicApp,
            environments: { 'non-production': { redirectUris: ['https://app.example.com/epic/callback'], tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' } },
          },
        ],
        registrations: [
          { app: portal, issuer: sandbox.general.fhirBase, environment: 'production', ...(overrides.portal ? { overrides: overrides.portal } : {}) },
          { app: epicApp, issuer: sandbox.epic.fhirBase, environment: 'non-production', initialAccessTokenEnv: 'EPIC_IAT', ...(overrides.epic ? { overrides: overrides.epic } : {}) },
        ],
      }),
    );
  }

  /** The registration of this app, as the API shows it. */
  async function registrationOf(softwareId: string) {
    const list = (await call('GET', `/registrations?q=${encodeURIComponent(suffix)}&pageSize=100`, { token: env.REGISTRAR_TOKEN })).body as { items: Array<{ id: string; appName: string }> };
    const name = softwareId === portal ? `Portal ${suffix}` : `Epic App ${suffix}`;
    const id = list.items.find((r) => r.appName === name)!.id;
    return (await call('GET', `/registrations/${id}`, { token: env.REGISTRAR_TOKEN })).body as { id: string; clientId: string; managed: boolean; overrides: Record<string, unknown> | null };
  }

  /** What General Hospital holds for the client now (RFC 7592 read). */
  async function hospitalRecord(registrationId: string) {
    const [row] = await getDb().select({ uri: registrations.registrationClientUri }).from(registrations).where(eq(registrations.id, registrationId));
    const rat = await readCurrentCredential(getDb(), 'registration', registrationId, 'registration_access_token');
    return (await readClientRegistration({ registrationClientUri: row!.uri!, registrationAccessToken: rat!.plaintext, fetchInit: { policy: await currentOutboundPolicy() } })).metadata;
  }

  const nothingToDo = async () => {
    const again = await cli(['apply', file(), '--detailed-exitcode']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toContain('Nothing to do.');
  };

  it('registers with the declared overrides, and a second run plans nothing', async () => {
    await writeInventory({ portal: { scope: 'openid launch/patient' } });
    const res = await cli(['apply', file(), '--yes']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const reg = await registrationOf(portal);
    expect(reg.overrides).toEqual({ scope: 'openid launch/patient' });
    expect((await hospitalRecord(reg.id)).scope).toBe('openid launch/patient');
    await nothingToDo();
  });

  it('the same overrides written differently (key order, a list as lines, spacing in the scope) are no change', async () => {
    await writeInventory({ portal: { scope: '  openid   launch/patient ' } });
    await nothingToDo();
    // Now set two, then the same two in the other order with the list as lines: still in line after one apply.
    await writeInventory({ portal: { scope: 'openid launch/patient', grantTypes: ['authorization_code'] } });
    expect((await cli(['apply', file(), '--yes'])).code).toBe(0);
    expect((await registrationOf(portal)).overrides).toEqual({ scope: 'openid launch/patient', grantTypes: ['authorization_code'] });
    await writeInventory({ portal: { grantTypes: 'authorization_code\n', scope: 'openid launch/patient' } });
    await nothingToDo();
  });

  it('changed overrides of a managed registration: planned (exit 2 with --detailed-exitcode), applied with --yes through the sync, then nothing to do', async () => {
    const before = await registrationOf(portal);
    const wanted = { scope: 'openid fhirUser launch/patient', redirectUris: ['https://app.example.com/portal/v2/callback'] };
    await writeInventory({ portal: wanted });

    const planned = await cli(['apply', file(), '--detailed-exitcode']);
    expect(planned.code, planned.stderr + planned.stdout).toBe(2);
    expect(planned.stdout).toContain(`~ registration Portal ${suffix} @ ${sandbox.general.fhirBase} [production] client ${before.clientId} (overrides)`);
    expect(planned.stdout).toContain('overrides: {"grantTypes":["authorization_code"],"scope":"openid launch/patient"} → {"redirectUris":["https://app.example.com/portal/v2/callback"],"scope":"openid fhirUser launch/patient"}');
    expect(planned.stdout).toContain('scope: "openid launch/patient" → "openid fhirUser launch/patient"');
    expect(planned.stdout).toContain('redirect_uris: ["https://app.example.com/portal/callback"] → ["https://app.example.com/portal/v2/callback"]');
    expect(planned.stdout).toMatch(/Plan: 0 to create, 1 to update, 0 to delete, 7 unchanged[.;]/);
    // Planning sent nothing and stored nothing.
    expect((await hospitalRecord(before.id)).scope).toBe('openid launch/patient');
    expect((await registrationOf(portal)).overrides).toEqual({ scope: 'openid launch/patient', grantTypes: ['authorization_code'] });

    const json = JSON.parse((await cli(['apply', file(), '--format', 'json'])).stdout) as { changes: number; actions: Array<{ kind: string; op: string; reason?: string; changes?: Array<{ field: string }> }> };
    expect(json.changes).toBe(1);
    const update = json.actions.find((a) => a.kind === 'registration' && a.op === 'update')!;
    expect(update.reason).toBe('overrides');
    expect(update.changes!.map((c) => c.field)).toEqual(['overrides', 'redirect_uris', 'scope']);

    const applied = await cli(['apply', file(), '--yes']);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toContain(`~ updated Portal ${suffix} @ ${sandbox.general.fhirBase} [production] client ${before.clientId}: redirect_uris, scope; overrides stored`);
    const hospital = await hospitalRecord(before.id);
    expect(hospital.scope).toBe('openid fhirUser launch/patient');
    expect(hospital.redirect_uris).toEqual(['https://app.example.com/portal/v2/callback']);
    expect((await registrationOf(portal)).overrides).toEqual(wanted);
    const audits = await getDb()
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, before.id), eq(auditLog.action, 'registration.overrides')));
    expect(audits.at(-1)!.details).toMatchObject({ to: wanted });
    await nothingToDo();
  });

  it('overrides removed from the file are a change too: the registration goes back to the app profile', async () => {
    const reg = await registrationOf(portal);
    await writeInventory({});
    const planned = await cli(['apply', file(), '--detailed-exitcode']);
    expect(planned.code, planned.stdout).toBe(2);
    expect(planned.stdout).toContain('overrides: {"redirectUris":["https://app.example.com/portal/v2/callback"],"scope":"openid fhirUser launch/patient"} → (absent)');
    const applied = await cli(['apply', file(), '--yes']);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect((await hospitalRecord(reg.id)).scope).toBe(profileScope);
    expect((await registrationOf(portal)).overrides).toBeNull();
    await nothingToDo();
  });

  it('overrides with an unknown key or a wrong type are refused with the file’s other problems (exit 1), before any request', async () => {
    const bad = path.join(home, `bad-overrides-${suffix}.yaml`);
    await writeFile(
      bad,
      toYaml({
        healthSystems: [{ name: `General ${suffix}`, issuers: [{ url: sandbox.general.fhirBase, environment: 'sandbox' }] }],
        apps: [{ name: `Portal ${suffix}`, softwareId: portal, environments: { production: { redirectUris: ['https://app.example.com/portal/callback'] } } }],
        registrations: [{ app: portal, issuer: sandbox.general.fhirBase, environment: 'production', overrides: { redirect_uris: ['https://x.example/cb'], scope: ['openid'] } }],
      }),
    );
    const res = await cli(['apply', bad]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('registrations[0].overrides.redirect_uris: unknown key (use clientName, redirectUris, grantTypes, responseTypes, tokenEndpointAuthMethod, scope, keyAlgorithm)');
    expect(res.stderr).toContain('registrations[0].overrides.scope: expected a string');
    expect(res.stdout).toBe('');
  });

  const v3 = { redirectUris: ['https://app.example.com/portal/v3/callback'], scope: 'openid fhirUser launch/patient patient/*.rs' };

  it('an app profile change and an overrides change together: one sync carries both; a profile change to a field the overrides set does not reach the registration', async () => {
    const reg = await registrationOf(portal);
    await writeInventory({ portal: { scope: 'openid launch/patient' } }, v3);
    const planned = await cli(['apply', file(), '--detailed-exitcode', '--format', 'json']);
    expect(planned.code, planned.stderr).toBe(2);
    const actions = (JSON.parse(planned.stdout) as { actions: Array<{ kind: string; op: string; reason?: string; changes?: Array<{ field: string; from: unknown; to: unknown }> }> }).actions.filter((a) => a.op !== 'noop');
    expect(actions.map((a) => `${a.kind}:${a.op}`)).toEqual(['app:update', 'registration:update']);
    expect(actions[1]).toMatchObject({ reason: 'app profile, overrides' });
    // The profile's new scope is not listed: the overrides set the scope.
    expect(actions[1]!.changes).toEqual([
      { field: 'overrides', from: null, to: { scope: 'openid launch/patient' } },
      { field: 'redirect_uris', from: ['https://app.example.com/portal/callback'], to: v3.redirectUris },
    ]);

    const applied = await cli(['apply', file(), '--yes']);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toMatch(/~ updated Portal .*: redirect_uris, scope; overrides stored/);
    const hospital = await hospitalRecord(reg.id);
    expect(hospital.redirect_uris).toEqual(v3.redirectUris);
    expect(hospital.scope).toBe('openid launch/patient');
    expect((await registrationOf(portal)).overrides).toEqual({ scope: 'openid launch/patient' });
    await nothingToDo();
  });

  it('changed overrides of a registration without RFC 7592 management (Epic): reported as not applicable, exit 1 for plan and apply; the other changes are applied', async () => {
    const epic = await registrationOf(epicApp);
    expect(epic.managed).toBe(false);
    await writeInventory({ epic: { keyAlgorithm: 'ES384' }, portal: { scope: 'openid fhirUser launch/patient' } }, v3);

    const planned = await cli(['apply', file(), '--detailed-exitcode']);
    expect(planned.code, planned.stdout).toBe(1);
    expect(planned.stdout).toContain(`✗ registration Epic App ${suffix} @ ${sandbox.epic.fhirBase} [non-production] client ${epic.clientId}: cannot be applied: the hospital offers no RFC 7592 management for this client`);
    expect(planned.stdout).toContain('overrides: (absent) → {"keyAlgorithm":"ES384"}');
    expect(planned.stdout).toMatch(/Plan: 0 to create, 1 to update, 0 to delete, 6 unchanged, 1 that cannot be applied[.;]/);
    expect(planned.stderr).toContain('Error: 1 change in the file cannot be applied');
    // Without --detailed-exitcode as well: never "done" nor "to do".
    expect((await cli(['apply', file()])).code).toBe(1);

    const applied = await cli(['apply', file(), '--yes', '--format', 'json']);
    expect(applied.code, applied.stderr).toBe(1);
    const summary = JSON.parse(applied.stdout);
    expect(summary).toMatchObject({ changes: 1, blocked: 1, applied: 'partial' });
    expect(summary.actions.find((a: { op: string }) => a.op === 'blocked')).toMatchObject({ id: epic.id, changes: [{ field: 'overrides', from: null, to: { keyAlgorithm: 'ES384' } }] });
    expect(summary.log).toEqual([expect.stringContaining(`~ updated Portal ${suffix}`)]);
    expect(applied.stderr).toContain('cannot be applied');
    // The change that could be made was; the other is neither sent nor recorded.
    expect((await registrationOf(portal)).overrides).toEqual({ scope: 'openid fhirUser launch/patient' });
    expect((await registrationOf(epicApp)).overrides).toBeNull();

    // Still so on the next run: the file and Registrar are not in line.
    const text = await cli(['apply', file(), '--yes']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('Nothing apply can do: 1 change cannot be applied (✗ above).');
  });
});
