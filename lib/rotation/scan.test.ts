import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { auditLog, registrations } from '@/db/schema';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { registrationAnswer, startFakeRegistrationServer } from '@/test/support/fake-registration-server';
import { setRotationPolicy } from './policy';
import { createRotations } from './create';
import { computeRenewal } from './renewal';
import { rotateMany } from './run';
import { dueForRenewal, runRotationScan } from './scan';
import { learnUpdateIssuesSecret, readOverrides, setRotationOverrides } from './settings';
import { allowlist, captureError, clientCredentialsApp, currentSecretsInChain, register, registrationRow, replacementsOf, rotationRows, sandboxIssuer } from './test-support';

const DAY = 86_400_000;
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const policy = { renewBeforeDays: 30, lifetimeFraction: 2 / 3, maxAgeDays: null };

describe('when a credential is due for renewal', () => {
  it.each([
    ['a 90-day secret: 30 days before expiry and two thirds coincide', 90, 60, 'lifetime_fraction'],
    ['a 60-day secret: 30 days before expiry comes first', 60, 30, 'lead_time'],
    ['a one-year secret: two thirds of its lifetime comes first', 365, 365 * (2 / 3), 'lifetime_fraction'],
    ['a 20-day secret (shorter than the lead time): two thirds of its lifetime', 20, 20 * (2 / 3), 'lifetime_fraction'],
  ] as const)('%s', (_name, lifetimeDays, renewDay, basis) => {
    const renewal = computeRenewal({ kind: 'at', expiresAt: at(lifetimeDays), issuedAt: T0 }, policy);
    expect(renewal.renewAt!.getTime()).toBeCloseTo(at(renewDay).getTime(), -3);
    expect(renewal.basis).toBe(basis);
    expect(renewal.needsAttention).toBe(false);
  });

  it('expiry 0 (never) is not renewed unless a max-age policy says so; a key (no secret) likewise', () => {
    expect(computeRenewal({ kind: 'never', expiresAt: null, issuedAt: T0 }, policy)).toEqual({ renewAt: null, basis: 'never', needsAttention: false });
    expect(computeRenewal({ kind: 'none', expiresAt: null, issuedAt: T0 }, policy)).toEqual({ renewAt: null, basis: 'none', needsAttention: false });
    expect(computeRenewal({ kind: 'never', expiresAt: null, issuedAt: T0 }, { ...policy, maxAgeDays: 180 })).toEqual({ renewAt: at(180), basis: 'max_age', needsAttention: false });
  });

  it('an unknown expiry needs attention (never treated as never)', () => {
    expect(computeRenewal({ kind: 'unknown', expiresAt: null, issuedAt: T0 }, policy)).toEqual({ renewAt: null, basis: 'unknown', needsAttention: true });
  });

  it('a max-age policy shorter than the expiry rule wins', () => {
    expect(computeRenewal({ kind: 'at', expiresAt: at(365), issuedAt: T0 }, { ...policy, maxAgeDays: 90 }).renewAt).toEqual(at(90));
  });
});

let sandbox: Sandbox;
let fake: Awaited<ReturnType<typeof startFakeRegistrationServer>>;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  fake = await startFakeRegistrationServer();
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, sandbox.general.origin);
  await allowlist(admin.actor, fake.origin);
  issuerId = (await sandboxIssuer(ops.actor, sandbox.general.fhirBase)).id;
});

afterAll(async () => {
  await sandbox.stop();
  await fake.close();
  await closeDb();
});

/** General's secrets live 30 days: with the default policy they are due after 20 days. */
const IN_25_DAYS = () => new Date(Date.now() + 25 * DAY);

describe('the scheduled scan', () => {
  it('computes renewal times, rotates due registrations whose policy is automatic, and only counts the manual ones', async () => {
    const { appId } = await clientCredentialsApp();
    const auto = await register(ops.actor, issuerId, appId);
    const manual = await register(ops.actor, issuerId, appId);
    await setRotationPolicy(ops.actor, { registrationId: auto.registrationId, policy: 'automatic' });
    expect((await registrationRow(manual.registrationId)).rotationPolicy).toBe('manual');

    const today = await runRotationScan({ issuerId });
    expect(today.started).toEqual([]);
    const renewAt = (await registrationRow(auto.registrationId)).renewAt!;
    const expires = (await registrationRow(auto.registrationId)).secretExpiresAt!;
    expect(expires.getTime() - renewAt.getTime()).toBeGreaterThan(9.9 * DAY); // two thirds of 30 days

    const later = await runRotationScan({ issuerId, now: IN_25_DAYS() });
    const [rotation] = await rotationRows(auto.registrationId);
    expect(later.started).toEqual([rotation!.id]);
    expect(rotation).toMatchObject({ state: 'current', trigger: 'schedule' });
    expect(await rotationRows(manual.registrationId)).toEqual([]);
    expect(later.manualDue).toBeGreaterThanOrEqual(1);
    expect(await dueForRenewal(IN_25_DAYS(), 'manual', 1000, issuerId)).toContain(manual.registrationId);
    // The replacement is not due again: its renewal time is 20 days after its own issue.
    const replacement = (await replacementsOf(auto.registrationId))[0]!;
    expect(replacement.rotationPolicy).toBe('automatic');
    expect((await registrationRow(replacement.id)).renewAt!.getTime()).toBeGreaterThan(Date.now() + 19 * DAY);
    expect(await dueForRenewal(new Date(Date.now() + 19 * DAY), 'automatic', 1000, issuerId)).not.toContain(replacement.id);
  });

  it('hands the rotations it starts to batches and those it resumes to single runs (which count themselves before any work)', async () => {
    const { appId } = await clientCredentialsApp();
    const due = await register(ops.actor, issuerId, appId);
    await setRotationPolicy(ops.actor, { registrationId: due.registrationId, policy: 'automatic' });
    const crashed = await register(ops.actor, issuerId, appId);
    const [stale] = (await createRotations(ops.actor, [crashed.registrationId], 'manual')).rotations;
    const batched: string[] = [];
    const single: string[] = [];
    const scan = await runRotationScan({
      issuerId,
      now: IN_25_DAYS(),
      dispatchMany: async (ids) => void batched.push(...ids),
      dispatchResumed: async (ids) => void single.push(...ids),
    });
    const [started] = await rotationRows(due.registrationId);
    expect(scan.started).toContain(started!.id);
    expect(scan.resumed).toContain(stale!.rotation.id);
    expect(batched).toContain(started!.id);
    expect(batched).not.toContain(stale!.rotation.id);
    expect(single).toContain(stale!.rotation.id);
    expect(single).not.toContain(started!.id);
  });

  it('two instances scanning at once start one rotation per registration and change the hospital once', async () => {
    const { appId } = await clientCredentialsApp();
    const reg = await register(ops.actor, issuerId, appId);
    await setRotationPolicy(ops.actor, { registrationId: reg.registrationId, policy: 'automatic' });
    const [a, b] = await Promise.all([runRotationScan({ issuerId, now: IN_25_DAYS() }), runRotationScan({ issuerId, now: IN_25_DAYS() })]);
    expect([...a.started, ...b.started].filter((id) => id === (a.started[0] ?? b.started[0]))).toHaveLength(1);
    expect(await rotationRows(reg.registrationId)).toHaveLength(1);
    expect(await replacementsOf(reg.registrationId)).toHaveLength(1);
    expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
  });

  it('changes of different overrides of one issuer at the same moment all land (a rotation learning updateIssuesSecret, people editing others)', async () => {
    const issuer = await insertIssuer({ registrationEndpoint: 'https://overrides.example.org/register' });
    await Promise.all([
      setRotationOverrides(ops.actor, { kind: 'issuer', id: issuer.issuerId, overrides: { renewBeforeDays: 20 } }),
      setRotationOverrides(ops.actor, { kind: 'issuer', id: issuer.issuerId, overrides: { lifetimeFraction: 0.5 } }),
      setRotationOverrides(ops.actor, { kind: 'issuer', id: issuer.issuerId, overrides: { maxAgeDays: 90 } }),
      learnUpdateIssuesSecret(issuer.issuerId, false),
    ]);
    expect(await readOverrides('issuer', issuer.issuerId)).toEqual({ renewBeforeDays: 20, lifetimeFraction: 0.5, maxAgeDays: 90, updateIssuesSecret: false });
  });

  it('a per-issuer override changes when its registrations are due', async () => {
    const { appId } = await clientCredentialsApp();
    const reg = await register(ops.actor, issuerId, appId);
    await runRotationScan({ issuerId });
    const before = (await registrationRow(reg.registrationId)).renewAt!;
    await setRotationOverrides(ops.actor, { kind: 'app', id: appId, overrides: { lifetimeFraction: 0.5 } });
    await runRotationScan({ issuerId });
    const after = (await registrationRow(reg.registrationId)).renewAt!;
    expect(before.getTime() - after.getTime()).toBeGreaterThan(4.9 * DAY); // 20 days → 15 days after issue
    const refused = await captureError(() => setRotationOverrides(ops.actor, { kind: 'app', id: appId, overrides: { updateIssuesSecret: true } }));
    expect(refused.code).toBe('INVALID');
  });

  it('an expiry with microseconds is recomputed once, not on every scan', async () => {
    const { appId } = await clientCredentialsApp();
    const reg = await register(ops.actor, issuerId, appId);
    await getDb().execute(sql`update registrations set secret_expires_at = secret_expires_at + interval '123.456 milliseconds' + interval '789 microseconds' where id = ${reg.registrationId}`);
    const first = await runRotationScan({ issuerId });
    expect(first.renewalsRecomputed).toBeGreaterThanOrEqual(1);
    expect((await registrationRow(reg.registrationId)).renewAt).not.toBeNull();
    expect((await runRotationScan({ issuerId })).renewalsRecomputed).toBe(0);
  });

  it('a secret without client_secret_expires_at (unknown expiry) makes the registration need attention', async () => {
    fake.setBehaviour(registrationAnswer(201, { client_secret: 'unknown-expiry-secret-value' }));
    const fakeIssuer = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const reg = await register(ops.actor, fakeIssuer.issuerId, appId);
    expect((await registrationRow(reg.registrationId)).secretExpiryKind).toBe('unknown');
    const result = await runRotationScan({ issuerId: fakeIssuer.issuerId });
    expect(result.unknownExpiry).toBe(1);
    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('needs_attention');
    expect(row.attentionReason).toMatch(/did not say when this client secret expires/);
    expect(row.renewAt).toBeNull();
    // Recomputed only when the expiry changes: a second scan finds nothing stale.
    expect((await runRotationScan({ issuerId: fakeIssuer.issuerId })).renewalsRecomputed).toBe(0);
  });

  it('bulk rotation of a selection runs each through the state machine; a manager cannot', async () => {
    const { appId } = await clientCredentialsApp();
    const regs = await Promise.all([0, 1, 2].map(() => register(ops.actor, issuerId, appId)));
    const ids = regs.map((r) => r.registrationId);
    const manager = await insertUser({ role: 'manager' });
    expect((await captureError(() => rotateMany(manager.actor, { registrationIds: ids }))).code).toBe('FORBIDDEN');
    const results = await rotateMany(ops.actor, { registrationIds: [...ids, ids[0]!] }, { concurrency: 2 });
    expect(results).toHaveLength(3);
    expect(results.every((r) => r.state === 'current' && r.error === null)).toBe(true);
    for (const id of ids) expect(await replacementsOf(id)).toHaveLength(1);
    const rows = await getDb().select({ id: registrations.id }).from(registrations).where(eq(registrations.replacesRegistrationId, ids[0]!));
    expect(rows).toHaveLength(1);
  });
});

describe('who may set a registration’s rotation policy and overrides', () => {
  it('a manager is refused, audited as denied, and nothing changes', async () => {
    const manager = await insertUser({ role: 'manager' });
    const reg = await register(ops.actor, issuerId, (await clientCredentialsApp()).appId);
    await expect(setRotationPolicy(manager.actor, { registrationId: reg.registrationId, policy: 'automatic' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(setRotationOverrides(manager.actor, { kind: 'issuer', id: issuerId, overrides: { lifetimeFraction: 0.5 } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await registrationRow(reg.registrationId)).rotationPolicy).toBe('manual');
    const denied = await getDb()
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.actorId, manager.id), eq(auditLog.outcome, 'denied')));
    expect(denied.map((d) => d.action).sort()).toEqual(['rotation.policy', 'rotation.settings']);
  });
});
