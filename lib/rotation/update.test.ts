import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertIssuer, insertUser } from '@/db/factories';
import { auditLog, credentials, registrations, rotations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { findManagementRecoveryFile, importRecoveryFiles } from '@/lib/registrations/recovery';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { startFakeRfc7592Server } from '@/test/support/fake-rfc7592';
import { whileCredentialsRefused } from '@/test/support/refuse-credentials';
import { planRotation } from './plan';
import { resolveActiveRegistration } from './queries';
import { runRotationBatch } from './batch';
import { createRotations } from './create';
import { MAX_UNFINISHED_RUNS } from './internal';
import { resumeRotation, retryRotation, rotationNotificationText, startRotation, type RotationStep } from './run';
import { dueRetries } from './scan';
import { readOverrides, setRotationOverrides } from './settings';
import {
  allowlist,
  clientCredentialsApp,
  currentSecretsInChain,
  register,
  registrationRow,
  replacementsOf,
  rotationRows,
  sandboxIssuer,
  SimulatedCrash,
  tokenWithCurrentCredential,
} from './test-support';

/**
 * A hand-written RFC 7592 server on loopback that DOES issue a new client_secret on update (which
 * node-oidc-provider never does), with the faults each test chooses: the PUT's answer lost after
 * the change was committed, a refused registration access token, a 503. It has a token endpoint
 * that accepts only the client's current secret, so verification is real.
 */
let fake: Awaited<ReturnType<typeof startFakeRfc7592Server>>;
let sandbox: Sandbox;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let fakeIssuerId: string;
let generalIssuerId: string;

beforeAll(async () => {
  fake = await startFakeRfc7592Server({ newSecretOnPut: true, clientIdPrefix: 'upd' });
  sandbox = await startSandbox({ log: () => {} });
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, fake.origin);
  await allowlist(admin.actor, sandbox.general.origin);
  fakeIssuerId = (await insertIssuer({ registrationEndpoint: `${fake.origin}/register`, tokenEndpoint: `${fake.origin}/token` })).issuerId;
  await setRotationOverrides(ops.actor, { kind: 'issuer', id: fakeIssuerId, overrides: { updateIssuesSecret: true } });
  generalIssuerId = (await sandboxIssuer(ops.actor, sandbox.general.fhirBase)).id;
});

afterAll(async () => {
  await fake.close();
  await sandbox.stop();
  await closeDb();
});

beforeEach(() => {
  fake.faults = {};
});

async function registeredAtFake() {
  const { appId } = await clientCredentialsApp();
  const reg = await register(ops.actor, fakeIssuerId, appId);
  return { ...reg, client: fake.clients.get(reg.clientId)! };
}

async function currentSecret(registrationId: string) {
  return (await readCurrentCredential(getDb(), 'registration', registrationId, 'client_secret'))!;
}

describe('RFC 7592 update where the server issues a new secret', () => {
  it('rotates the secret in place with one PUT: the answer makes the new secret current in the transaction that stores it; the old one kept as previous', async () => {
    const reg = await registeredAtFake();
    const plan = await planRotation(ops.actor, { registrationId: reg.registrationId });
    expect(plan.strategy).toBe('rfc7592_update');
    const before = await currentSecret(reg.registrationId);
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(plan.verification).toBe('server_answer');
    expect(result).toMatchObject({ state: 'current', strategy: 'rfc7592_update', verifiedBy: 'hospital answer (RFC 7592 update)', newRegistrationId: null });
    expect(reg.client.puts).toBe(1);
    // Registrar's copy of the registration answer was current: no GET before the PUT, no token request after it.
    expect(fake.requests.filter((r) => r.url === `/manage/${reg.clientId}` && r.method === 'GET')).toHaveLength(0);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
    const after = await currentSecret(reg.registrationId);
    expect(after.plaintext).toBe(reg.client.secret);
    expect(after.version).toBe(2);
    const [old] = await getDb().select({ state: credentials.state }).from(credentials).where(eq(credentials.id, before.id));
    expect(old?.state).toBe('previous');
    const row = await registrationRow(reg.registrationId);
    expect(row.clientId).toBe(reg.clientId);
    expect(row.secretExpiresAt!.getTime()).toBe(Number(reg.client.record.client_secret_expires_at) * 1000);
    expect(row.lastRotatedAt).not.toBeNull();
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
    // Received and switched in one commit: one audit row says both, naming what came and what became current.
    const audit = await getDb()
      .select({ action: auditLog.action, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.targetId, reg.registrationId), inArray(auditLog.action, ['rotation.switch', 'rotation.credentials_received'])));
    expect(audit).toEqual([
      {
        action: 'rotation.switch',
        details: expect.objectContaining({ rotationId: result.id, op: 'update', clientId: reg.clientId, rotated: expect.arrayContaining(['client_secret']), newCredentialId: after.id, verifiedBy: 'hospital answer (RFC 7592 update)' }),
      },
    ]);
  });

  // Strategy (a) commits twice: in flight with the PUT marked as sent, then current with the answer.
  const BOUNDARIES: RotationStep[] = ['in_flight', 'put_started', 'current'];
  it.each(BOUNDARIES)('a crash right after “%s” resumes and converges on the one secret the server issued', async (boundary) => {
    const reg = await registeredAtFake();
    let crashed = false;
    await expect(
      startRotation(ops.actor, { registrationId: reg.registrationId }, {
        afterStep: (step) => {
          if (step === boundary && !crashed) {
            crashed = true;
            throw new SimulatedCrash(step);
          }
        },
      }),
    ).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    expect((await resumeRotation(rot!.id)).state).toBe('current');
    expect(reg.client.puts).toBe(1);
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('the PUT answer is lost after the server committed: a GET finds the new secret and the rotation completes', async () => {
    const reg = await registeredAtFake();
    fake.faults = { dropPutAnswer: true };
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(result.state).toBe('current');
    expect(result.strategy).toBe('rfc7592_update');
    expect(reg.client.puts).toBe(1);
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    expect(fake.requests.filter((r) => r.url === `/manage/${reg.clientId}` && r.method === 'GET').length).toBeGreaterThanOrEqual(1);
  });

  it('a batched PUT answered for another client: the PUT stays marked, so the rotation’s own run reads the registration and stores the secret that PUT issued instead of sending another', async () => {
    const reg = await registeredAtFake();
    const [created] = (await createRotations(ops.actor, [reg.registrationId], 'bulk')).rotations;
    fake.faults = { answerForOtherClient: true };
    const result = await runRotationBatch([created!.rotation.id]);
    expect(result.individually).toEqual([created!.rotation.id]);
    expect(reg.client.puts).toBe(1);
    const [rot] = await rotationRows(reg.registrationId);
    expect(rot?.state).toBe('current');
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('401 on the registration access token: the rotation fails, the registration needs attention, the current secret is untouched', async () => {
    const reg = await registeredAtFake();
    const before = await currentSecret(reg.registrationId);
    fake.faults = { put401: true };
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(result.state).toBe('failed');
    expect(result.error?.message).toMatch(/refused the registration access token/);
    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('needs_attention');
    expect(row.attentionReason).toMatch(/old credential is still current/);
    const after = await currentSecret(reg.registrationId);
    expect(after.id).toBe(before.id);
    expect(after.plaintext).toBe(reg.client.secret);
    const secrets = await getDb().select().from(credentials).where(eq(credentials.ownerId, reg.registrationId));
    expect(secrets.filter((c) => c.kind === 'client_secret')).toHaveLength(1);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('a transient failure backs off exponentially and, after the configured attempts, fails with needs attention', async () => {
    const reg = await registeredAtFake();
    fake.faults = { put503: true };
    const timings = { maxAttempts: 3, backoffSeconds: 30 };
    const first = await startRotation(ops.actor, { registrationId: reg.registrationId }, { timings });
    expect(first).toMatchObject({ state: 'in_flight', attempt: 1 });
    const firstDelay = new Date(first.nextAttemptAt!).getTime() - Date.now();
    expect(firstDelay).toBeGreaterThan(25_000);
    expect(firstDelay).toBeLessThanOrEqual(30_000);
    // Not due yet: a resume without force does nothing.
    expect((await resumeRotation(first.id, { timings })).attempt).toBe(1);
    const second = await resumeRotation(first.id, { timings, force: true });
    expect(second.attempt).toBe(2);
    const secondDelay = new Date(second.nextAttemptAt!).getTime() - Date.now();
    expect(secondDelay).toBeGreaterThan(55_000); // 2 × 30 s
    const third = await resumeRotation(first.id, { timings, force: true });
    expect(third).toMatchObject({ state: 'failed', attempt: 3 });
    expect(third.error?.message).toMatch(/tried 3 times/);
    expect((await registrationRow(reg.registrationId)).status).toBe('needs_attention');
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
  });


  it('the answer cannot be stored (the database refuses it): the rotation does not fail; the next attempt reads the registration and stores the secret the PUT issued', async () => {
    const reg = await registeredAtFake();
    const before = await currentSecret(reg.registrationId);
    const first = await whileCredentialsRefused(reg.registrationId, () => startRotation(ops.actor, { registrationId: reg.registrationId }));
    expect(reg.client.puts).toBe(1);
    expect(first).toMatchObject({ state: 'in_flight', attempt: 1, error: { code: 'NEEDS_RECOVERY' } });
    expect(first.nextAttemptAt).not.toBeNull();
    const [row] = await getDb().select().from(rotations).where(eq(rotations.id, first.id));
    expect(row?.putStartedAt).not.toBeNull();
    expect((await currentSecret(reg.registrationId)).id).toBe(before.id);

    const done = await resumeRotation(first.id, { force: true });
    expect(done.state).toBe('current');
    expect(reg.client.puts).toBe(1);
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('the update rotated the registration access token and its answer cannot be stored: both go to a recovery file, the rotation waits for `npm run recover` instead of giving the client up, then finishes', async () => {
    const reg = await registeredAtFake();
    fake.faults = { rotateRatOnPut: true };
    const first = await whileCredentialsRefused(reg.registrationId, () => startRotation(ops.actor, { registrationId: reg.registrationId }));
    fake.faults = {};
    expect(reg.client.puts).toBe(1);
    expect(first).toMatchObject({ state: 'in_flight', error: { code: 'NEEDS_RECOVERY', message: expect.stringMatching(/kept encrypted in .*management-.*\.json/) } });
    const file = await findManagementRecoveryFile(reg.registrationId);
    expect(file).not.toBeNull();
    // Sealed: neither the new token nor the new secret is readable in the file or the message.
    const fileText = fs.readFileSync(file!, 'utf8');
    for (const secret of [reg.client.rat, reg.client.secret]) {
      expect(fileText).not.toContain(secret);
      expect(first.error!.message).not.toContain(secret);
    }

    // The next attempt: the hospital refuses the old token (the PUT rotated it). Not a fallback to
    // re-registration: the new token is in the file, so the rotation waits for its import.
    const waiting = await resumeRotation(first.id, { force: true });
    expect(waiting).toMatchObject({ state: 'in_flight', strategy: 'rfc7592_update', error: { code: 'NEEDS_RECOVERY', message: expect.stringMatching(/Run `npm run recover`/) } });
    expect(new Date(waiting.nextAttemptAt!).getTime() - Date.now()).toBeGreaterThan(50 * 60_000);
    const row = await registrationRow(reg.registrationId);
    expect(row).toMatchObject({ status: 'needs_attention', clientId: reg.clientId });
    const registrationsBefore = fake.clients.size;

    expect(await importRecoveryFiles()).toMatchObject({ failed: 0 });
    expect(await findManagementRecoveryFile(reg.registrationId)).toBeNull();
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    const done = await resumeRotation(first.id, { force: true });
    expect(done.state).toBe('current');
    expect(fake.clients.size).toBe(registrationsBefore); // no replacement client registered
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('the answer cannot be stored and no attempt is left: the failure says the old secret may no longer work (the update was sent)', async () => {
    const reg = await registeredAtFake();
    const failed = await whileCredentialsRefused(reg.registrationId, () => startRotation(ops.actor, { registrationId: reg.registrationId }, { timings: { maxAttempts: 1 } }));
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'NEEDS_RECOVERY' } });
    expect(reg.client.puts).toBe(1);
    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('needs_attention');
    expect(row.attentionReason).toMatch(/update was sent and its outcome is not known: the old secret may no longer work/);
    expect(row.attentionReason).not.toMatch(/old credential is still current/);
  });

  it('runs that end with a back-off are not unfinished runs: resumed past the unfinished-run limit, it backs off each time and never stalls', async () => {
    const reg = await registeredAtFake();
    fake.faults = { put503: true };
    const timings = { maxAttempts: MAX_UNFINISHED_RUNS + 3, backoffSeconds: 30 };
    const first = await startRotation(ops.actor, { registrationId: reg.registrationId }, { timings });
    for (let run = 2; run <= MAX_UNFINISHED_RUNS + 2; run++) {
      // Due again (not forced: a person's retry would reset the count anyway).
      await getDb().update(rotations).set({ nextAttemptAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, first.id));
      const view = await resumeRotation(first.id, { timings });
      expect(view).toMatchObject({ state: 'in_flight', attempt: run, stalledAt: null, error: { code: 'UPSTREAM_UNREACHABLE' } });
    }
    const [row] = await getDb().select().from(rotations).where(eq(rotations.id, first.id));
    expect(row).toMatchObject({ unfinishedRuns: 0, stalledAt: null });
  });
});

describe('a step whose process never survives it (killed each time it runs)', () => {
  // Each run dies right after marking its PUT as sent, before the PUT leaves.
  const dies = { afterStep: (step: RotationStep) => void (step === 'put_started' && throwCrash(step)) };
  function throwCrash(step: string): never {
    throw new SimulatedCrash(step);
  }
  const stale = (rotationId: string) => getDb().update(rotations).set({ updatedAt: new Date(Date.now() - 3_600_000) }).where(eq(rotations.id, rotationId));

  it(`is resumed until ${MAX_UNFINISHED_RUNS} runs ended unfinished, then waits for a person: old secret current, needs attention, audited, not resumed by the scan; a retry checks what reached the hospital and completes`, async () => {
    const reg = await registeredAtFake();
    const before = await currentSecret(reg.registrationId);
    await expect(startRotation(ops.actor, { registrationId: reg.registrationId }, dies)).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    for (let run = 2; run <= MAX_UNFINISHED_RUNS; run++) await expect(resumeRotation(rot!.id, dies)).rejects.toBeInstanceOf(SimulatedCrash);
    // Until now the scan resumes it like any rotation whose runner died.
    await stale(rot!.id);
    expect(await dueRetries(new Date(), 500, fakeIssuerId)).toContain(rot!.id);

    const stalled = await resumeRotation(rot!.id, dies);
    expect(stalled).toMatchObject({ state: 'in_flight', error: { code: 'INTERRUPTED', message: expect.stringMatching(/started 3 times.*retry/s) } });
    expect(stalled.stalledAt).not.toBeNull();
    expect(reg.client.puts).toBe(0);
    expect((await currentSecret(reg.registrationId)).id).toBe(before.id);
    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('needs_attention');
    expect(row.attentionReason).toMatch(/changing the credential at the hospital/);
    const audit = await getDb().select({ details: auditLog.details }).from(auditLog).where(and(eq(auditLog.targetId, reg.registrationId), eq(auditLog.action, 'rotation.stall')));
    expect(audit).toEqual([{ details: expect.objectContaining({ rotationId: rot!.id, state: 'in_flight', unfinishedRuns: MAX_UNFINISHED_RUNS }) }]);

    // Stalled: the scan leaves it, and a resume runs nothing.
    await stale(rot!.id);
    expect(await dueRetries(new Date(), 500, fakeIssuerId)).not.toContain(rot!.id);
    let steps = 0;
    expect((await resumeRotation(rot!.id, { afterStep: () => void steps++ })).stalledAt).not.toBeNull();
    expect(steps).toBe(0);

    // A person retries: the run reads the registration first (the last PUT may have landed), then updates once.
    const gets = fake.requests.filter((r) => r.method === 'GET' && r.url === `/manage/${reg.clientId}`).length;
    const done = await retryRotation(ops.actor, { rotationId: rot!.id });
    expect(done).toMatchObject({ state: 'current', stalledAt: null });
    expect(fake.requests.filter((r) => r.method === 'GET' && r.url === `/manage/${reg.clientId}`).length).toBe(gets + 1);
    expect(reg.client.puts).toBe(1);
    expect((await registrationRow(reg.registrationId)).status).toBe('active');
    expect((await currentSecret(reg.registrationId)).plaintext).toBe(reg.client.secret);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('a retry that dies again counts afresh: the scan resumes it again up to the limit', async () => {
    const reg = await registeredAtFake();
    await expect(startRotation(ops.actor, { registrationId: reg.registrationId }, dies)).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    for (let run = 2; run <= MAX_UNFINISHED_RUNS; run++) await expect(resumeRotation(rot!.id, dies)).rejects.toBeInstanceOf(SimulatedCrash);
    expect((await resumeRotation(rot!.id, dies)).stalledAt).not.toBeNull();
    await expect(retryRotation(ops.actor, { rotationId: rot!.id }, dies)).rejects.toBeInstanceOf(SimulatedCrash);
    const [after] = await getDb().select().from(rotations).where(eq(rotations.id, rot!.id));
    expect(after).toMatchObject({ unfinishedRuns: 1, stalledAt: null });
    await stale(rot!.id);
    expect(await dueRetries(new Date(), 500, fakeIssuerId)).toContain(rot!.id);
  });
});

/** Forwards everything to General; for a PUT it waits for General's full answer, then cuts the connection. */
async function startDroppingProxy(target: string) {
  let puts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          if (req.method === 'PUT') {
            puts++;
            req.socket.destroy(); // General committed the update; the answer is lost
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(Buffer.concat(body));
        });
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, puts: () => puts, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

describe('the PUT answer lost at General Hospital (a proxy cuts the connection after General committed)', () => {
  it('the update rotated the registration access token: the GET is refused, so the rotation falls back to re-registration and marks the old client for clean-up', async () => {
    const issuer = { id: generalIssuerId };
    // Pretend General issues secrets on update, so that the update strategy is planned.
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuer.id, overrides: { updateIssuesSecret: true } });
    const { appId } = await clientCredentialsApp();
    const reg = await register(ops.actor, issuer.id, appId);
    const proxy = await startDroppingProxy(sandbox.general.origin);
    try {
      await allowlist(admin.actor, proxy.origin);
      const row = await registrationRow(reg.registrationId);
      const proxied = row.registrationClientUri!.replace(sandbox.general.origin, proxy.origin);
      await getDb().update(registrations).set({ registrationClientUri: proxied }).where(eq(registrations.id, reg.registrationId));
      const oldSecret = await currentSecret(reg.registrationId);

      const result = await startRotation(ops.actor, { registrationId: reg.registrationId }, { timings: { graceSeconds: 0 } });
      expect(proxy.puts()).toBe(1);
      expect(result).toMatchObject({ state: 'current', strategy: 're_registration', fallbackFrom: 'rfc7592_update' });
      expect(await replacementsOf(reg.registrationId)).toHaveLength(1);
      const old = await registrationRow(reg.registrationId);
      expect(old.status).toBe('management_lost');
      expect(old.attentionReason).toMatch(new RegExp(`delete client ${reg.clientId}`));
      expect(old.replacedByRegistrationId).toBe(result.newRegistrationId);
      expect((await resolveActiveRegistration(reg.registrationId)).registrationId).toBe(result.newRegistrationId);
      expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
      const [oldRow] = await getDb().select({ state: credentials.state }).from(credentials).where(eq(credentials.id, oldSecret.id));
      expect(oldRow?.state).toBe('previous');
      await tokenWithCurrentCredential(reg.registrationId, `${sandbox.general.origin}/token`);

      // The clean-up cannot delete the old client (its token is dead): it says so and leaves it to a person.
      const { runRotationCleanup } = await import('./cleanup');
      expect(await runRotationCleanup(result.id)).toBe('manual');
      const [rot] = await rotationRows(reg.registrationId);
      expect(rot?.cleanupError).toMatch(/Management access lost/);
    } finally {
      await proxy.close();
    }
  });

  it('an update that keeps the old secret teaches Registrar that this issuer does not rotate on update, and the rotation re-registers', async () => {
    const issuer = { id: generalIssuerId };
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuer.id, overrides: { updateIssuesSecret: true } });
    const { appId } = await clientCredentialsApp();
    const reg = await register(ops.actor, issuer.id, appId);
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(result).toMatchObject({ state: 'current', strategy: 're_registration', fallbackFrom: 'rfc7592_update' });
    expect((await readOverrides('issuer', issuer.id)).updateIssuesSecret).toBe(false);
    const next = await register(ops.actor, issuer.id, appId);
    expect((await planRotation(ops.actor, { registrationId: next.registrationId })).strategy).toBe('re_registration');
    await tokenWithCurrentCredential(reg.registrationId, `${sandbox.general.origin}/token`);
  });

  it('falling back to re-registration starts the new step’s count: unfinished runs of the update do not carry over', async () => {
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: generalIssuerId, overrides: { updateIssuesSecret: true } });
    const { appId } = await clientCredentialsApp();
    const reg = await register(ops.actor, generalIssuerId, appId);
    let putsMarked = 0;
    // Run 1 dies before its PUT; run 2 sends it, General keeps the secret, the rotation falls back, and run 2 dies there.
    const crashes = {
      afterStep: (step: RotationStep) => {
        if ((step === 'put_started' && putsMarked++ === 0) || step === 'strategy_fallback') throw new SimulatedCrash(step);
      },
    };
    await expect(startRotation(ops.actor, { registrationId: reg.registrationId }, crashes)).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    expect(rot?.unfinishedRuns).toBe(1);
    await expect(resumeRotation(rot!.id, crashes)).rejects.toBeInstanceOf(SimulatedCrash);
    const [row] = await getDb().select().from(rotations).where(eq(rotations.id, rot!.id));
    expect(row).toMatchObject({ state: 'in_flight', strategy: 're_registration', fallbackFrom: 'rfc7592_update', unfinishedRuns: 1 });
    expect((await resumeRotation(rot!.id)).state).toBe('current');
  });
});

describe('the webhook text of a failed rotation', () => {
  it('escapes names, the client id and the reason for Slack, so a name cannot ping a channel', () => {
    const text = rotationNotificationText({ hospital: 'Mercy <!channel>', app: 'A & B', environment: 'production', clientId: 'c<1>' }, 'failed', 'The hospital said <b>no</b>.');
    expect(text).toBe('Registrar: credential rotation FAILED for Mercy &lt;!channel&gt; · A &amp; B (production) · client c&lt;1&gt;. The hospital said &lt;b&gt;no&lt;/b&gt;.');
  });
});
