import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import { auditLog, credentials, registrations, rotations } from '@/db/schema';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { readCurrentCredential } from '@/lib/credentials/store';
import { readClientRegistration } from '@/lib/oauth/registration';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { runRotationCleanup } from './cleanup';
import { planRotation } from './plan';
import { getRotationPanel, resolveActiveRegistration } from './queries';
import { MAX_UNFINISHED_RUNS } from './internal';
import { resumeRotation, retryRotation, startRotation, type RotationStep } from './run';
import {
  allowlist,
  captureError,
  clientCredentialsApp,
  currentSecretsInChain,
  register,
  registrationRow,
  replacementsOf,
  rotationOperations,
  rotationRows,
  sandboxIssuer,
  SimulatedCrash,
  tokenWithCurrentCredential,
} from './test-support';

let sandbox: Sandbox;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let manager: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;
let tokenEndpoint: string;

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  manager = await insertUser({ role: 'manager' });
  support = await insertUser({ role: 'support' });
  await allowlist(admin.actor, sandbox.general.origin);
  const issuer = await sandboxIssuer(ops.actor, sandbox.general.fhirBase);
  issuerId = issuer.id;
  tokenEndpoint = issuer.discovery.endpoints.token!.value;
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

async function registeredAtGeneral() {
  const { appId } = await clientCredentialsApp();
  return register(ops.actor, issuerId, appId);
}

/** Whether General still knows a client: read it with the registration access token Registrar holds. */
async function existsAtGeneral(registrationId: string): Promise<boolean> {
  const reg = await registrationRow(registrationId);
  const rat = await readCurrentCredential(getDb(), 'registration', registrationId, 'registration_access_token');
  try {
    await readClientRegistration({ registrationClientUri: reg.registrationClientUri!, registrationAccessToken: rat!.plaintext, fetchInit: { policy: await currentOutboundPolicy() } });
    return true;
  } catch {
    return false;
  }
}

describe('re-registration at General Hospital (RFC 7592 updates there keep the old secret)', () => {
  it('the plan names re-registration and says why, before anything runs', async () => {
    const reg = await registeredAtGeneral();
    const plan = await planRotation(manager.actor, { registrationId: reg.registrationId });
    expect(plan.strategy).toBe('re_registration');
    expect(plan.verification).toBe('token_request');
    expect(plan.blockers).toEqual([]);
    expect(plan.why).toMatch(/not known that an RFC 7592 update at this issuer issues a new secret/);
    expect(plan.steps.length).toBeGreaterThanOrEqual(4);
    expect(await rotationRows(reg.registrationId)).toEqual([]);
  });

  it('registers a new client, verifies it with a token request, switches, and deletes the old client at the hospital after the grace period', async () => {
    const reg = await registeredAtGeneral();
    const oldSecret = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId }, { timings: { graceSeconds: 3600 } });
    expect(result).toMatchObject({ state: 'current', strategy: 're_registration', joined: false, verifiedBy: 'token request (client_credentials)' });
    expect(result.newRegistrationId).toBeTruthy();

    // Registrar now calls the new client current; the old one is retiring but still works at the hospital.
    const active = await resolveActiveRegistration(reg.registrationId);
    expect(active.registrationId).toBe(result.newRegistrationId);
    expect(active.clientId).not.toBe(reg.clientId);
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
    const old = await registrationRow(reg.registrationId);
    expect(old.replacedByRegistrationId).toBe(result.newRegistrationId);
    expect(old.retiringUntil!.getTime()).toBeGreaterThan(Date.now() + 3500_000);
    const [oldSecretRow] = await getDb().select({ state: credentials.state }).from(credentials).where(eq(credentials.id, oldSecret!.id));
    expect(oldSecretRow?.state).toBe('previous');
    expect(await existsAtGeneral(reg.registrationId)).toBe(true);
    await tokenWithCurrentCredential(reg.registrationId, tokenEndpoint);
    const created = (await registrationRow(result.newRegistrationId!));
    expect(created.replacesRegistrationId).toBe(reg.registrationId);
    expect(created.secretExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    // The page's panel: the new expiry and the previous credential.
    const panel = await getRotationPanel(support.actor, reg.registrationId);
    expect(panel.canRotate).toBe(false);
    expect(panel.latest?.newExpiry?.kind).toBe('at');
    expect(panel.replacedBy?.id).toBe(result.newRegistrationId);
    expect(panel.previousCredential).toMatchObject({ registrationId: reg.registrationId, state: 'previous', fingerprint: oldSecret!.fingerprint });
    expect(panel.currentCredential?.registrationId).toBe(result.newRegistrationId);

    // Grace period over: the old client is deleted at General; the new one keeps working.
    expect(await runRotationCleanup(result.id)).toBe('skipped'); // not due yet
    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, result.id));
    expect(await runRotationCleanup(result.id)).toBe('done');
    expect((await registrationRow(reg.registrationId)).status).toBe('deleted');
    expect(await existsAtGeneral(reg.registrationId)).toBe(false);
    await tokenWithCurrentCredential(reg.registrationId, tokenEndpoint);
    const actions = (await getDb().select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.targetId, reg.registrationId))).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['rotation.start', 'rotation.registered', 'rotation.verified', 'rotation.switch', 'rotation.cleanup', 'registration.delete']));
  });

  it('retries deleting the old client while the hospital is unreachable, spacing the retries, and asks a person after a week', async () => {
    const reg = await registeredAtGeneral();
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId }, { timings: { graceSeconds: 3600 } });
    expect(result.state).toBe('current');
    // The old client's management URI now points at a port nothing listens on (allowlisted: the failure is the connection, not the policy).
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await addAllowlistEntry(admin.actor, { entry: `http://127.0.0.1:${port}` });
    await getDb().update(registrations).set({ registrationClientUri: `http://127.0.0.1:${port}/reg/${reg.clientId}` }).where(eq(registrations.id, reg.registrationId));
    // A grace period changed since the switch must not matter: the window runs from the old client's retiring date.
    const deps = { timings: { graceSeconds: 30 * 86_400, backoffSeconds: 1 } };
    const dueSince = (days: number) => getDb().update(registrations).set({ retiringUntil: new Date(Date.now() - days * 86_400_000) }).where(eq(registrations.id, reg.registrationId));

    // Due a day ago: retried, next in about half a day (half of the failure so far), not in seconds.
    await dueSince(1);
    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, result.id));
    expect(await runRotationCleanup(result.id, deps)).toBe('retry');
    const [retrying] = await getDb().select().from(rotations).where(eq(rotations.id, result.id));
    expect((retrying!.cleanupAt!.getTime() - Date.now()) / 86_400_000).toBeCloseTo(0.5, 1);
    expect(retrying!.cleanupDoneAt).toBeNull();

    // Failing for eight days: no more retries; the old registration says what to do.
    await dueSince(8);
    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, result.id));
    expect(await runRotationCleanup(result.id, deps)).toBe('manual');
    const [given] = await getDb().select().from(rotations).where(eq(rotations.id, result.id));
    expect(given!.cleanupDoneAt).not.toBeNull();
    expect((await registrationRow(reg.registrationId)).attentionReason).toMatch(/deleting it at the hospital failed for 8 days \(.+\)\. Remove it with the hospital\./);
  });

  it('three concurrent rotation requests for one registration make exactly one upstream change', async () => {
    const reg = await registeredAtGeneral();
    const results = await Promise.all([0, 1, 2].map(() => startRotation(ops.actor, { registrationId: reg.registrationId, trigger: 'bulk' })));
    expect(results.filter((r) => !r.joined)).toHaveLength(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    const winner = results.find((r) => !r.joined)!;
    expect(winner.state).toBe('current');
    expect(await rotationRows(reg.registrationId)).toHaveLength(1);
    expect(await rotationOperations(winner.id)).toHaveLength(1);
    expect(await replacementsOf(reg.registrationId)).toHaveLength(1);
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
  });

  const BOUNDARIES: RotationStep[] = ['in_flight', 'new_credential_stored', 'verified', 'current'];
  it.each(BOUNDARIES)('a crash right after “%s” resumes and converges: one current secret, one new client', async (boundary) => {
    const reg = await registeredAtGeneral();
    let crashed = false;
    const crash = async (step: RotationStep) => {
      if (step === boundary && !crashed) {
        crashed = true;
        throw new SimulatedCrash(step);
      }
    };
    await expect(startRotation(ops.actor, { registrationId: reg.registrationId }, { afterStep: crash })).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    expect(rot?.state).toBe(boundary);
    // Resumed once, and once more: a second resume of a finished rotation changes nothing.
    const resumed = await resumeRotation(rot!.id);
    expect(resumed.state).toBe('current');
    expect((await resumeRotation(rot!.id)).state).toBe('current');
    expect(await rotationOperations(rot!.id)).toHaveLength(1);
    expect(await replacementsOf(reg.registrationId)).toHaveLength(1);
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
    await tokenWithCurrentCredential(reg.registrationId, tokenEndpoint);
  });

  it('managers and support cannot rotate: FORBIDDEN, and nothing is started', async () => {
    const reg = await registeredAtGeneral();
    for (const who of [manager, support]) {
      const error = await captureError(() => startRotation(who.actor, { registrationId: reg.registrationId }));
      expect(error.code).toBe('FORBIDDEN');
    }
    expect(await rotationRows(reg.registrationId)).toEqual([]);
    expect((await registrationRow(reg.registrationId)).replacedByRegistrationId).toBeNull();
  });

  it('a re-registration that stalled and was retried by a person leaves no stale "needs attention" on the replaced registration', async () => {
    const reg = await registeredAtGeneral();
    const crash = { afterStep: (step: RotationStep) => void (step === 'new_credential_stored' && throwCrash(step)) };
    await expect(startRotation(ops.actor, { registrationId: reg.registrationId }, crash)).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    expect(rot?.state).toBe('new_credential_stored');
    // As if the verification had killed its process every time it ran: the next resume stalls it.
    await getDb().update(rotations).set({ unfinishedRuns: MAX_UNFINISHED_RUNS }).where(eq(rotations.id, rot!.id));
    expect((await resumeRotation(rot!.id)).stalledAt).not.toBeNull();
    expect(await registrationRow(reg.registrationId)).toMatchObject({ status: 'needs_attention', attentionReason: expect.stringMatching(/stopped/) });

    const done = await retryRotation(ops.actor, { rotationId: rot!.id });
    expect(done).toMatchObject({ state: 'current', strategy: 're_registration' });
    // The replaced client still works through its grace period: retiring, not a problem to look at.
    expect(await registrationRow(reg.registrationId)).toMatchObject({ status: 'active', attentionReason: null, replacedByRegistrationId: done.newRegistrationId });
    expect(await registrationRow(done.newRegistrationId!)).toMatchObject({ status: 'active', attentionReason: null });
    await tokenWithCurrentCredential(reg.registrationId, tokenEndpoint);
  });

  it('a replaced registration cannot be rotated again; its replacement can', async () => {
    const reg = await registeredAtGeneral();
    const first = await startRotation(ops.actor, { registrationId: reg.registrationId });
    const plan = await planRotation(ops.actor, { registrationId: reg.registrationId });
    expect(plan.blockers.join(' ')).toMatch(/already replaced/);
    expect((await captureError(() => startRotation(ops.actor, { registrationId: reg.registrationId }))).code).toBe('INVALID');
    const second = await startRotation(ops.actor, { registrationId: first.newRegistrationId! });
    expect(second.state).toBe('current');
    expect((await resolveActiveRegistration(reg.registrationId)).registrationId).toBe(second.newRegistrationId);
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
    const [row] = await getDb().select().from(rotations).where(and(eq(rotations.registrationId, first.newRegistrationId!)));
    expect(row?.state).toBe('current');
  });
});

function throwCrash(step: string): never {
  throw new SimulatedCrash(step);
}
