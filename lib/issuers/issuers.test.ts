import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq, or } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, bulkOperations, discoveryRuns, issuers } from '@/db/schema';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { listHealthSystems } from '@/lib/health-systems/queries';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { toActionFailure } from '@/lib/actions/define-action';
import { startEpicServer, type EpicServer } from '@/sandbox/epic';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { addIssuer } from './add-issuer';
import { createRefreshAllOperation, runRefreshAll } from './refresh-all';
import { acceptIssuerChange, refreshIssuer } from './refresh-issuer';
import { setIssuerEpicClientId } from './set-issuer-epic-client-id';

let sandbox: Sandbox;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
let moving: { server: http.Server; origin: string; tokenPath: string; openidStatus: number };

/** A tiny authorization server whose token endpoint can be moved, to see refresh detect it. */
function startMovingServer(): Promise<typeof moving> {
  // The issuer has a path of its own: ephemeral ports are reused, and an issuer URL can be added once.
  const prefix = `/as-${Math.random().toString(36).slice(2, 10)}`;
  const state = { server: undefined as unknown as http.Server, origin: '', tokenPath: '/token', openidStatus: 200 };
  state.server = http.createServer((req, res) => {
    const openid = req.url === `${prefix}/.well-known/openid-configuration`;
    if (openid || req.url === `/.well-known/oauth-authorization-server${prefix}`) {
      if (openid && state.openidStatus !== 200) {
        res.statusCode = state.openidStatus;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: state.origin,
          authorization_endpoint: `${state.origin}/authorize`,
          token_endpoint: `${state.origin}${state.tokenPath}`,
          registration_endpoint: `${state.origin}/register`,
          jwks_uri: `${state.origin}/jwks`,
          response_types_supported: ['code'],
          // The RFC 8414 document is the sparser one: what only the OpenID one says must not be lost.
          ...(openid ? { code_challenge_methods_supported: ['S256'], token_endpoint_auth_methods_supported: ['private_key_jwt'], scopes_supported: ['openid', 'system/*.rs'] } : {}),
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  return new Promise((resolve) =>
    state.server.listen(0, '127.0.0.1', () => {
      state.origin = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}${prefix}`;
      resolve(state);
    }),
  );
}

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  moving = await startMovingServer();
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  support = await insertUser({ role: 'support' });
  for (const origin of [sandbox.general.origin, sandbox.mercy.origin, sandbox.epic.origin, moving.origin]) {
    await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  }
});

afterAll(async () => {
  await sandbox.stop();
  await new Promise((r) => moving.server.close(r));
  await closeDb();
});

const newSystem = async () => createHealthSystem(ops.actor, { name: `Hospital ${uniqueSuffix()}` });

describe('adding issuers', () => {
  it('adds General Hospital from its FHIR base with every endpoint sourced and the run stored', async () => {
    const system = await newSystem();
    const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.fhirBase, environment: 'sandbox' });
    const [row] = await getDb().select().from(issuers).where(eq(issuers.id, added.id));
    expect(row?.issuerUrl).toBe(sandbox.general.issuer);
    expect(row?.endpoints.registration?.value).toBe(sandbox.general.registrationEndpoint);
    expect(row?.endpoints.token?.source).toBeTruthy();
    expect(row?.capabilities).toContain('client-confidential-symmetric');
    expect(row?.warnings.map((w) => w.code)).toContain('HTTP_ENDPOINT');
    const runs = await getDb().select().from(discoveryRuns).where(eq(discoveryRuns.issuerId, added.id));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: 'create', outcome: 'ok' });
    const audits = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'issuer.add'), eq(auditLog.targetId, system.id)));
    expect(audits.map((a) => a.outcome)).toEqual(['success']);
    const listed = (await listHealthSystems(ops.actor)).find((s) => s.id === system.id);
    expect(listed).toMatchObject({ issuerCount: 1, registrationCount: 0 });
  });

  it('refuses the same authorization server twice, whether entered by FHIR base or issuer URL', async () => {
    const system = await newSystem();
    await addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.mercy.fhirBase, environment: 'sandbox' });
    await expect(addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.mercy.fhirBase, environment: 'sandbox' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.mercy.issuer, environment: 'production' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await getDb().select().from(issuers).where(eq(issuers.healthSystemId, system.id))).toHaveLength(1);
  });

  it('finds the Epic-like registration endpoint only when an Epic client id is given', async () => {
    const system = await newSystem();
    const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.epic.fhirBase, environment: 'non-production', epicClientId: 'epic-nonprod-client' });
    const [row] = await getDb().select().from(issuers).where(eq(issuers.id, added.id));
    expect(row?.endpoints.registration?.value).toBe(sandbox.epic.registrationEndpoint);
    expect(row?.issuerUrl).toBe(sandbox.epic.issuer);
  });

  it('refuses a support user and writes nothing', async () => {
    const system = await newSystem();
    await expect(addIssuer(support.actor, { healthSystemId: system.id, url: sandbox.general.fhirBase, environment: 'sandbox' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await getDb().select().from(issuers).where(eq(issuers.healthSystemId, system.id))).toHaveLength(0);
  });

  it('refuses a private address with BLOCKED_ADDRESS, adds nothing and audits the failure', async () => {
    const system = await newSystem();
    await expect(addIssuer(ops.actor, { healthSystemId: system.id, url: 'https://10.1.2.3/fhir', environment: 'production' })).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' });
    expect(await getDb().select().from(issuers).where(eq(issuers.healthSystemId, system.id))).toHaveLength(0);
    const audits = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'issuer.add'), eq(auditLog.targetId, system.id)));
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ outcome: 'failure', details: expect.objectContaining({ error: 'BLOCKED_ADDRESS' }) });
  });
});

describe('refreshing issuers', () => {
  it('a moved token endpoint is held, not followed: the accepted one stays in use, flagged, until a person accepts the change', async () => {
    const system = await newSystem();
    moving.tokenPath = '/token';
    const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: moving.origin, environment: 'production' });
    expect((await refreshIssuer(ops.actor, added.id)).changes).toBe(0);
    moving.tokenPath = '/oauth2/v2/token';
    const outcome = await refreshIssuer(ops.actor, added.id);
    expect(outcome).toMatchObject({ outcome: 'ok', needsAttention: true });
    const row = async () => (await getDb().select().from(issuers).where(eq(issuers.id, added.id)))[0]!;
    // Secrets and assertions keep going to the endpoint a person accepted.
    expect((await row()).endpoints.token?.value).toBe(`${moving.origin}/token`);
    expect(await row()).toMatchObject({ needsAttention: true, attentionReason: expect.stringContaining(`token endpoint ${moving.origin}/token → ${moving.origin}/oauth2/v2/token`) });
    // A later refresh that finds the same new endpoint does not slip it in either.
    expect(await refreshIssuer(ops.actor, added.id)).toMatchObject({ changes: 0, needsAttention: true });
    expect((await row()).endpoints.token?.value).toBe(`${moving.origin}/token`);
    const runs = await getDb().select().from(discoveryRuns).where(eq(discoveryRuns.issuerId, added.id));
    expect(runs).toHaveLength(4);
    expect(runs.some((r) => r.changes.some((c) => c.field === 'endpoints.token' && c.attention))).toBe(true);

    // Support cannot accept it; ops can, and from then on the new endpoint is the one used.
    await expect(acceptIssuerChange(support.actor, added.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await acceptIssuerChange(ops.actor, added.id)).toEqual({ issuerId: added.id, accepted: ['endpoints.token'] });
    expect(await row()).toMatchObject({ needsAttention: false, attentionReason: null });
    expect((await row()).endpoints.token?.value).toBe(`${moving.origin}/oauth2/v2/token`);
    const [audit] = await getDb().select({ details: auditLog.details }).from(auditLog).where(and(eq(auditLog.action, 'issuer.accept_change'), eq(auditLog.targetId, added.id)));
    expect(audit?.details).toMatchObject({ accepted: [{ field: 'endpoints.token', accepted: `${moving.origin}/token`, published: `${moving.origin}/oauth2/v2/token` }] });

    // The hospital moving back is a change to accept again, not a silent switch.
    moving.tokenPath = '/token';
    expect(await refreshIssuer(ops.actor, added.id)).toMatchObject({ needsAttention: true });
    expect((await row()).endpoints.token?.value).toBe(`${moving.origin}/oauth2/v2/token`);
  });

  it('accepting applies the change the page showed: a newer discovery that published another endpoint is refused until that one is seen', async () => {
    const system = await newSystem();
    const moving = await startMovingServer();
    await addAllowlistEntry(admin.actor, { entry: `http://${new URL(moving.origin).host}` }).catch(() => {});
    const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: moving.origin, environment: 'production' });
    const row = async () => (await getDb().select().from(issuers).where(eq(issuers.id, added.id)))[0]!;
    try {
      moving.tokenPath = '/moved/token';
      await refreshIssuer(ops.actor, added.id);
      const seen = (await row()).attentionReason; // what the page shows while ops call the hospital
      // Meanwhile the daily refresh reads yet another endpoint (a compromised front end, say).
      moving.tokenPath = '/elsewhere/token';
      await refreshIssuer(ops.actor, added.id, { trigger: 'schedule' });

      const refused = await acceptIssuerChange(ops.actor, added.id, { seenReason: seen }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(`${moving.origin}/elsewhere/token`) });
      expect((await row()).endpoints.token?.value).toBe(`${moving.origin}/token`);
      // Seen and confirmed: accepted.
      expect(await acceptIssuerChange(ops.actor, added.id, { seenReason: (await row()).attentionReason })).toMatchObject({ accepted: ['endpoints.token'] });
      expect((await row()).endpoints.token?.value).toBe(`${moving.origin}/elsewhere/token`);
    } finally {
      await new Promise((r) => moving.server.close(r));
    }
  });

  it('a refresh that finds the accepted endpoints again clears a pending flag', async () => {
    const server = await startMovingServer();
    await addAllowlistEntry(admin.actor, { entry: `http://${new URL(server.origin).host}` });
    try {
      const system = await newSystem();
      const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: server.origin, environment: 'production' });
      server.tokenPath = '/elsewhere/token';
      expect(await refreshIssuer(ops.actor, added.id)).toMatchObject({ needsAttention: true });
      server.tokenPath = '/token';
      expect(await refreshIssuer(ops.actor, added.id)).toMatchObject({ needsAttention: false });
      const [row] = await getDb().select().from(issuers).where(eq(issuers.id, added.id));
      expect(row).toMatchObject({ needsAttention: false, attentionReason: null });
      expect(row?.endpoints.token?.value).toBe(`${server.origin}/token`);
    } finally {
      await new Promise((r) => server.server.close(r));
    }
  });

  it('a document that errs this time (503) makes the run fail and keeps the last good metadata, while the other one still answers', async () => {
    const server = await startMovingServer();
    await addAllowlistEntry(admin.actor, { entry: `http://${new URL(server.origin).host}` });
    try {
      const system = await newSystem();
      const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: server.origin, environment: 'production' });
      const before = (await getDb().select().from(issuers).where(eq(issuers.id, added.id)))[0]!;
      expect(before.scopesSupported).toEqual(['openid', 'system/*.rs']);
      server.openidStatus = 503;
      const outcome = await refreshIssuer(ops.actor, added.id);
      expect(outcome).toMatchObject({ outcome: 'failed', error: { code: 'DISCOVERY_FAILED', message: expect.stringContaining('openid-configuration') } });
      const after = (await getDb().select().from(issuers).where(eq(issuers.id, added.id)))[0]!;
      expect(after).toMatchObject({ scopesSupported: before.scopesSupported, codeChallengeMethodsSupported: ['S256'], tokenEndpointAuthMethodsSupported: ['private_key_jwt'], lastError: expect.objectContaining({ code: 'DISCOVERY_FAILED' }) });
      // Gone for good (404) is a real change: the run succeeds with what is left.
      server.openidStatus = 404;
      expect(await refreshIssuer(ops.actor, added.id)).toMatchObject({ outcome: 'ok' });
      expect((await getDb().select().from(issuers).where(eq(issuers.id, added.id)))[0]!.scopesSupported).toEqual([]);
    } finally {
      await new Promise((r) => server.server.close(r));
    }
  });

  it('keeps the last good metadata and records the error when the server is gone', async () => {
    const gone = await startMovingServer();
    await addAllowlistEntry(admin.actor, { entry: `http://${new URL(gone.origin).host}` });
    const system = await newSystem();
    const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: gone.origin, environment: 'production' });
    await new Promise((r) => gone.server.close(r));
    const outcome = await refreshIssuer(ops.actor, added.id);
    expect(outcome.outcome).toBe('failed');
    const [row] = await getDb().select().from(issuers).where(eq(issuers.id, added.id));
    expect(row?.lastError?.code).toBeTruthy();
    expect(row?.endpoints.token?.value).toBe(`${gone.origin}/token`);
  });

  it('refresh all counts every issuer once and finishes', async () => {
    const op = await createRefreshAllOperation(ops.actor);
    await runRefreshAll(op.id, { concurrency: 3 });
    const [row] = await getDb().select().from(bulkOperations).where(eq(bulkOperations.id, op.id));
    const total = (await getDb().select({ id: issuers.id }).from(issuers)).length;
    expect(row?.status).toBe('done');
    expect(row!.succeeded + row!.failed).toBe(row!.total);
    expect(row!.total).toBeGreaterThanOrEqual(total - 2); // other test files may add issuers meanwhile
  });

  it('a refresh all whose process died (no progress for 20 minutes) is ended, so the next one runs instead of joining it for ever', async () => {
    const first = await createRefreshAllOperation(ops.actor);
    expect((await createRefreshAllOperation(ops.actor)).id).toBe(first.id); // alive: joined
    // Its process is killed here: nothing moves it any more. Twenty-one minutes later:
    const later = new Date(Date.now() + 21 * 60_000);
    const next = await createRefreshAllOperation(ops.actor, { now: later });
    expect(next).toMatchObject({ joined: false });
    expect(next.id).not.toBe(first.id);
    const [dead] = await getDb().select().from(bulkOperations).where(eq(bulkOperations.id, first.id));
    expect(dead).toMatchObject({ status: 'failed' });
    const audit = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'issuer.refresh_all.abandon'), eq(auditLog.targetId, first.id)));
    expect(audit).toHaveLength(1);
    await runRefreshAll(next.id, { concurrency: 3 });
    expect((await getDb().select().from(bulkOperations).where(eq(bulkOperations.id, next.id)))[0]?.status).toBe('done');
  });
});

describe('setting the Epic client id', () => {
  const servers: EpicServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  /**
   * An Epic-like server of the test's own, added without its Epic client id. The sandbox's one is
   * already added above (an issuer URL can be added once), and an ephemeral port another test file
   * used earlier in this run may carry an issuer already: such a port is skipped, kept open meanwhile
   * so the next try gets another.
   */
  async function epicIssuerWithoutClientId() {
    for (;;) {
      const epic = await startEpicServer({ port: 0, adminToken: 'not-used', log: () => {} });
      servers.push(epic);
      const taken = await getDb().select({ id: issuers.id }).from(issuers).where(or(eq(issuers.issuerUrl, epic.info.issuer), eq(issuers.inputUrl, epic.info.fhirBase)));
      if (taken.length > 0) continue;
      await addAllowlistEntry(admin.actor, { entry: `http://${new URL(epic.info.origin).host}` }).catch(() => {});
      const system = await newSystem();
      const added = await addIssuer(ops.actor, { healthSystemId: system.id, url: epic.info.fhirBase, environment: 'production' });
      return { id: added.id, epic: epic.info };
    }
  }
  const issuerRow = async (id: string) => (await getDb().select().from(issuers).where(eq(issuers.id, id)))[0]!;
  const auditsOf = (id: string, action: string) => getDb().select().from(auditLog).where(and(eq(auditLog.action, action), eq(auditLog.targetId, id))).orderBy(auditLog.at);
  const runsOf = async (id: string) => (await getDb().select({ id: discoveryRuns.id }).from(discoveryRuns).where(eq(discoveryRuns.issuerId, id))).length;

  it('an Epic issuer added without its Epic client id has no registration endpoint; setting the id discovers again and uses the one Epic now shows', async () => {
    const { id, epic } = await epicIssuerWithoutClientId();
    const before = await issuerRow(id);
    expect(before.endpoints.registration).toBeUndefined();
    expect(before.warnings.map((w) => w.code)).toContain('NO_REGISTRATION_ENDPOINT');

    // Pasted with Epic's stray spaces: stored trimmed.
    const result = await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: '  epic-prod-client-1  ' });
    expect(result).toMatchObject({ epicClientId: 'epic-prod-client-1', changed: true, refresh: { outcome: 'ok', needsAttention: false }, registrationEndpoint: { before: null, after: epic.registrationEndpoint } });
    const after = await issuerRow(id);
    expect(after).toMatchObject({ epicClientId: 'epic-prod-client-1', needsAttention: false, attentionReason: null });
    // Applied, not held: the person's own change of the Epic client id is what made Epic show it.
    expect(after.endpoints.registration?.value).toBe(epic.registrationEndpoint);
    expect(after.warnings.map((w) => w.code)).not.toContain('NO_REGISTRATION_ENDPOINT');
    expect(after.endpoints.token?.value).toBe(before.endpoints.token?.value);

    const [set] = await auditsOf(id, 'issuer.set_epic_client_id');
    expect(set).toMatchObject({ outcome: 'success', actorId: ops.actor.id, details: expect.objectContaining({ epicClientId: 'epic-prod-client-1', previous: null, changed: true }) });
    const [refreshed] = await auditsOf(id, 'issuer.refresh');
    expect(refreshed?.details).toMatchObject({ appliedWithoutHold: [{ field: 'endpoints.registration', before: null, after: epic.registrationEndpoint }] });
  });

  it('refuses support with FORBIDDEN and changes nothing', async () => {
    const { id } = await epicIssuerWithoutClientId();
    const runs = await runsOf(id);
    await expect(setIssuerEpicClientId(support.actor, { issuerId: id, epicClientId: 'epic-prod-client-1' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const row = await issuerRow(id);
    expect(row.epicClientId).toBeNull();
    expect(row.endpoints.registration).toBeUndefined();
    expect(await runsOf(id)).toBe(runs);
    expect(await auditsOf(id, 'issuer.set_epic_client_id')).toHaveLength(0);
  });

  it('refuses an Epic client id over 200 characters with an error at the field, and changes nothing', async () => {
    const { id } = await epicIssuerWithoutClientId();
    const runs = await runsOf(id);
    const error = await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: 'e'.repeat(201) }).catch((e: unknown) => e);
    expect(toActionFailure('setIssuerEpicClientId', error)).toMatchObject({ ok: false, error: { code: 'INVALID' }, fieldErrors: { epicClientId: ['Keep the Epic client ID to 200 characters or fewer.'] } });
    expect((await issuerRow(id)).epicClientId).toBeNull();
    expect(await runsOf(id)).toBe(runs);
    // 200 is still allowed.
    expect(await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: 'e'.repeat(200) })).toMatchObject({ changed: true, epicClientId: 'e'.repeat(200) });
  });

  it('clearing the Epic client id discovers again without it: Epic hides register and Registrar stops using it', async () => {
    const { id } = await epicIssuerWithoutClientId();
    await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: 'epic-prod-client-1' });
    const cleared = await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: '   ' });
    expect(cleared).toMatchObject({ epicClientId: null, changed: true, refresh: { outcome: 'ok', needsAttention: false }, registrationEndpoint: { after: null } });
    const row = await issuerRow(id);
    expect(row).toMatchObject({ epicClientId: null, needsAttention: false });
    expect(row.endpoints.registration).toBeUndefined();
    expect(await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: null })).toMatchObject({ changed: false, epicClientId: null });

    const audits = await auditsOf(id, 'issuer.set_epic_client_id');
    expect(audits.map((a) => [a.outcome, a.details?.epicClientId, a.details?.previous, a.details?.changed])).toEqual([
      ['success', 'epic-prod-client-1', null, true],
      ['success', null, 'epic-prod-client-1', true],
      ['success', null, null, false],
    ]);
  });

  it('a refresh asked without the Epic client id that someone set while it ran asks again with it, and flags nothing', async () => {
    // An Epic-like server that shows its registration endpoint only to an Epic-Client-ID, and can
    // hold one request until released (the refresh that is under way when the id is set).
    const prefix = `/gated-${uniqueSuffix()}`;
    let hold: { reached: () => void; released: Promise<void> } | null = null;
    let release = () => {};
    const server = http.createServer((req, res) => {
      if (req.url !== `${prefix}/.well-known/openid-configuration`) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const answer = () => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            issuer: origin,
            authorization_endpoint: `${origin}/authorize`,
            token_endpoint: `${origin}/token`,
            jwks_uri: `${origin}/jwks`,
            response_types_supported: ['code'],
            ...(req.headers['epic-client-id'] ? { registration_endpoint: `${origin}/register` } : {}),
          }),
        );
      };
      const held = hold;
      hold = null;
      if (!held) return answer();
      held.reached();
      void held.released.then(answer);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
    try {
      await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
      const { id } = await addIssuer(ops.actor, { healthSystemId: (await newSystem()).id, url: origin, environment: 'production' });
      expect((await issuerRow(id)).endpoints.registration).toBeUndefined();

      const reached = new Promise<void>((resolve) => {
        hold = { reached: resolve, released: new Promise<void>((r) => (release = r)) };
      });
      const running = refreshIssuer(ops.actor, id, { trigger: 'refresh-all' });
      await reached;
      // Meanwhile a person sets the id: their own refresh (not held) applies the endpoint Epic now shows.
      expect(await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: 'epic-prod-client-1' })).toMatchObject({ registrationEndpoint: { after: `${origin}/register` } });
      release();
      expect(await running).toMatchObject({ outcome: 'ok', needsAttention: false });
      expect(await issuerRow(id)).toMatchObject({ needsAttention: false, attentionReason: null, epicClientId: 'epic-prod-client-1' });
      expect((await issuerRow(id)).endpoints.registration?.value).toBe(`${origin}/register`);
    } finally {
      release();
      await new Promise((r) => server.close(r));
    }
  });

  it('only a change of the Epic client id applies the registration endpoint: a plain refresh, or saving the same id again, still holds it for a person to accept', async () => {
    const { id, epic } = await epicIssuerWithoutClientId();
    // The id stored some other way (as before this feature, by hand in the database); then a refresh.
    await getDb().update(issuers).set({ epicClientId: 'epic-prod-client-1' }).where(eq(issuers.id, id));
    expect(await refreshIssuer(ops.actor, id)).toMatchObject({ outcome: 'ok', needsAttention: true });
    expect((await issuerRow(id)).endpoints.registration).toBeUndefined();

    expect(await setIssuerEpicClientId(ops.actor, { issuerId: id, epicClientId: 'epic-prod-client-1' })).toMatchObject({ changed: false, refresh: { needsAttention: true }, registrationEndpoint: { before: null, after: null } });
    expect(await issuerRow(id)).toMatchObject({ needsAttention: true, attentionReason: expect.stringContaining(`registration endpoint (none) → ${epic.registrationEndpoint}`) });

    expect(await acceptIssuerChange(ops.actor, id)).toMatchObject({ accepted: ['endpoints.registration'] });
    expect((await issuerRow(id)).endpoints.registration?.value).toBe(epic.registrationEndpoint);
  });
});
