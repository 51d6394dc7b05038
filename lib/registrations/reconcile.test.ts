import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { and, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, credentials, registrationOperationResolutions, registrationOperations, registrations } from '@/db/schema';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { registrationAnswer, startFakeRegistrationServer } from '@/test/support/fake-registration-server';
import { closeOperation, countOperationsNeedingAttention, findOperationByIdempotencyKey, findStaleOperations, getOperationOrThrow, listOperationsNeedingAttention, reconcileOperation } from './reconcile';
import { registerApp } from './register';

const CHILD = path.resolve(import.meta.dirname, 'testing/register-then-crash.ts');

let fake: Awaited<ReturnType<typeof startFakeRegistrationServer>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let manager: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
const key = () => randomUUID() + randomUUID();

beforeAll(async () => {
  fake = await startFakeRegistrationServer();
  const admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  manager = await insertUser({ role: 'manager' });
  support = await insertUser({ role: 'support' });
  await addAllowlistEntry(admin.actor, { entry: `http://${new URL(fake.origin).host}` }).catch(() => {});
});

afterAll(async () => {
  await fake.close();
  await closeDb();
});

async function operationByKey(idempotencyKey: string) {
  const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, idempotencyKey));
  return op!;
}

/** Two real minutes are too long for a test: the row's clock is moved back instead (nothing else is touched). */
async function age(operationId: string, minutes: number) {
  await getDb()
    .update(registrationOperations)
    .set({ createdAt: sql`${registrationOperations.createdAt} - make_interval(mins => ${minutes})`, updatedAt: sql`${registrationOperations.updatedAt} - make_interval(mins => ${minutes})` })
    .where(eq(registrationOperations.id, operationId));
}

async function rejection(promise: Promise<unknown>) {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & { code: string; details?: Record<string, unknown> },
  );
}

function runChild(payload: unknown): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', '--conditions=react-server', CHILD, JSON.stringify(payload)], { cwd: path.resolve(import.meta.dirname, '../..'), env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('a crash after the hospital answered and before the commit', () => {
  it('leaves the operation in flight; the stale scan makes it outcome_unknown; a retry with the same key sends nothing; a person records the client id', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId, profile } = await insertApp({ environments: { production: {} } });
    const canarySecret = `crash-secret-${uniqueSuffix()}`;
    let answered!: (clientId: string) => void;
    const sent = new Promise<string>((r) => (answered = r));
    fake.setBehaviour((_req, body, res) => {
      const clientId = `crash-${uniqueSuffix()}`;
      res.statusCode = 201;
      res.setHeader('content-type', 'application/json');
      // The callback runs once the whole 201 has been handed to the socket: the hospital has said yes.
      res.end(JSON.stringify({ ...JSON.parse(body), client_id: clientId, client_secret: canarySecret, client_secret_expires_at: 0 }), () => answered(clientId));
    });
    const requestsBefore = fake.requests.length;
    const input = { issuerId, appId, environment: 'production', idempotencyKey: key() };

    const child = await runChild({ actor: ops.actor, input });
    const events = child.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; operationId?: string; clientId?: string });
    expect(events.map((e) => e.event), child.stderr).toEqual(['afterResponse']);
    // Killed by SIGKILL (npx and tsx relay it as exit status 128 + 9).
    expect(child.signal === 'SIGKILL' || child.code === 137, `exit ${child.code} ${child.signal}`).toBe(true);
    const clientId = await sent;
    expect(events[0]?.clientId).toBe(clientId);
    expect(fake.requests.length - requestsBefore).toBe(1);

    // What the crash left: the intent row in flight, nothing of the answer.
    const op = await operationByKey(input.idempotencyKey);
    expect(op).toMatchObject({ id: events[0]?.operationId, status: 'in_flight', registrationId: null });
    expect(await getDb().select().from(registrations).where(eq(registrations.issuerId, issuerId))).toHaveLength(0);

    // A fresh in-flight row is left alone by the scan and cannot be reconciled yet.
    expect((await findStaleOperations()).map((o) => o.id)).not.toContain(op.id);
    expect(await rejection(reconcileOperation(ops.actor, { operationId: op.id }))).toMatchObject({ code: 'CONFLICT' });
    await age(op.id, 3);
    expect((await findStaleOperations()).map((o) => o.id)).toContain(op.id);
    const stale = await operationByKey(input.idempotencyKey);
    expect(stale.status).toBe('outcome_unknown');
    expect(stale.error?.message).toContain(`cannot tell whether the hospital registered the client; look for a client named “${profile.name}” with software_id ${profile.softwareId} at the hospital`);
    const [staleAudit] = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'registration.operation.stale'), eq(auditLog.targetId, op.id)));
    expect(staleAudit?.actorLabel).toBe('stale-operation-scan');

    // The same submission again: its outcome, not a second registration.
    const retry = await rejection(registerApp(ops.actor, input));
    expect(retry.code).toBe('NEEDS_RECOVERY');
    expect(retry.message).toMatch(/cannot tell whether/);
    expect(retry.details?.operationId).toBe(op.id);
    expect(fake.requests.length - requestsBefore).toBe(1);
    expect(await findOperationByIdempotencyKey(ops.actor, input.idempotencyKey)).toEqual({ id: op.id, status: 'outcome_unknown' });

    // The operation page: managers read it, support does not; no secret on it.
    const view = await getOperationOrThrow(manager.actor, op.id);
    expect(view.guidance.headline).toBe(`Registrar cannot tell whether the hospital registered the client; look for a client named “${profile.name}” with software_id ${profile.softwareId} at the hospital.`);
    expect(view.canResolve).toBe(false);
    expect(JSON.stringify(view)).not.toContain(canarySecret);
    expect(await rejection(getOperationOrThrow(support.actor, op.id))).toMatchObject({ code: 'FORBIDDEN' });
    expect((await getOperationOrThrow(ops.actor, op.id)).canResolve).toBe(true);

    // Only those who register may resolve; a refusal changes nothing.
    expect(await rejection(reconcileOperation(manager.actor, { operationId: op.id, resolution: { outcome: 'not_registered' } }))).toMatchObject({ code: 'FORBIDDEN' });
    expect((await operationByKey(input.idempotencyKey)).status).toBe('outcome_unknown');

    // The person finds the client at the hospital and records its id.
    const resolved = await reconcileOperation(ops.actor, { operationId: op.id, resolution: { outcome: 'registered', clientId }, note: 'Seen in the hospital console' });
    expect(resolved).toMatchObject({ status: 'needs_recovery', resolution: { outcome: 'registered', clientId, resolvedBy: ops.email, note: 'Seen in the hospital console' } });
    expect(resolved.guidance.headline).toContain(clientId);
    const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'registration.operation.resolve'), eq(auditLog.targetId, op.id)));
    expect(audit).toMatchObject({ outcome: 'success', actorLabel: ops.email });
    expect(audit?.details).toMatchObject({ resolution: 'registered', clientId, previousStatus: 'outcome_unknown', status: 'needs_recovery' });
    expect(await rejection(reconcileOperation(ops.actor, { operationId: op.id, resolution: { outcome: 'not_registered' } }))).toMatchObject({ code: 'CONFLICT' });

    const again = await rejection(registerApp(ops.actor, input));
    expect(again.code).toBe('NEEDS_RECOVERY');
    expect(again.message).toContain(clientId);
    expect(fake.requests.length - requestsBefore).toBe(1);
    // The secret of the lost answer was never stored anywhere.
    for (const table of ['registrations', 'registration_operations', 'registration_operation_resolutions', 'audit_log']) {
      const hit = await getDb().execute(sql.raw(`select count(*)::int as n from ${table} t where t::text like '%${canarySecret}%'`));
      expect(hit.rows[0]?.n, table).toBe(0);
    }
  }, 90_000);
});

describe('resolving operations with an unknown outcome', () => {
  it('"nothing registered" closes the submission: the same key returns that outcome, a new submission registers', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(() => {}); // never answers: the request may have been processed
    const input = { issuerId, appId, environment: 'production', idempotencyKey: key() };
    const first = await rejection(registerApp(ops.actor, input, { fetchInit: { headersTimeoutMs: 300, totalTimeoutMs: 500 } }));
    expect(first.code).toBe('TIMEOUT');
    const operationId = String(first.details?.operationId);
    expect((await getOperationOrThrow(ops.actor, operationId)).status).toBe('outcome_unknown');

    const resolved = await reconcileOperation(ops.actor, { operationId, resolution: { outcome: 'not_registered' } });
    expect(resolved).toMatchObject({ status: 'failed', resolution: { outcome: 'not_registered', clientId: null } });
    expect(resolved.guidance.headline).toBe('Nothing was registered at the hospital.');
    const [row] = await getDb().select({ n: count() }).from(registrationOperationResolutions).where(eq(registrationOperationResolutions.operationId, operationId));
    expect(row?.n).toBe(1);

    fake.setBehaviour(registrationAnswer(201, { client_secret: 'after-resolution', client_secret_expires_at: 0 }));
    const before = fake.requests.length;
    const replay = await rejection(registerApp(ops.actor, input));
    expect(replay.code).toBe('CONFLICT');
    expect(replay.message).toMatch(/nothing was registered by this submission/);
    expect(fake.requests.length).toBe(before);
    const fresh = await registerApp(ops.actor, { ...input, idempotencyKey: key() });
    expect(fresh.replayed).toBe(false);
    expect(fake.requests.length).toBe(before + 1);
  });

  it('a new submission of the same app at the same issuer is refused while an earlier one’s outcome is unknown (it could leave a second client); once resolved it registers; a rotation is not held up', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {}, staging: {} } });
    fake.setBehaviour(() => {});
    const lost = await rejection(registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() }, { fetchInit: { headersTimeoutMs: 300, totalTimeoutMs: 500 } }));
    const operationId = String(lost.details?.operationId);

    fake.setBehaviour(registrationAnswer(201, { client_secret: 'second', client_secret_expires_at: 0 }));
    const before = fake.requests.length;
    const refused = await rejection(registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() }));
    expect(refused).toMatchObject({ code: 'CONFLICT', details: { operationId } });
    expect(refused.message).toMatch(/may have created a client at the hospital that Registrar does not know: registering again could leave a second client there\. Resolve that operation first/);
    expect(fake.requests.length).toBe(before);
    // Another environment is another client: not held up.
    await registerApp(ops.actor, { issuerId, appId, environment: 'staging', idempotencyKey: key() });
    // A rotation's replacement registration is not held up either (it has its own recovery).
    await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() }, { guardUnresolved: false });

    await reconcileOperation(ops.actor, { operationId, resolution: { outcome: 'not_registered' } });
    const after = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    expect(after.replayed).toBe(false);
  });

  it('a retry of an abandoned in-flight submission gets its unknown outcome at once instead of waiting for it', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(registrationAnswer(201, { client_secret: 'abandoned', client_secret_expires_at: 0 }));
    const input = { issuerId, appId, environment: 'production', idempotencyKey: key() };
    // The hook failing stands in for a process that stopped: the row stays in flight.
    await rejection(
      registerApp(ops.actor, input, {
        afterResponse: () => {
          throw new Error('process stopped');
        },
      }),
    );
    const op = await operationByKey(input.idempotencyKey);
    expect(op.status).toBe('in_flight');
    await age(op.id, 3);
    const before = fake.requests.length;
    const started = Date.now();
    const retry = await rejection(registerApp(ops.actor, input));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(retry).toMatchObject({ code: 'NEEDS_RECOVERY' });
    expect(retry.message).toMatch(/cannot tell whether/);
    expect(fake.requests.length).toBe(before);
    expect((await operationByKey(input.idempotencyKey)).status).toBe('outcome_unknown');
  });

  it('a registration that Registrar does have settles the operation as succeeded when its client id is recorded', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(registrationAnswer(201, { client_secret: 'known', client_secret_expires_at: 0 }));
    const existing = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    const credentialCount = async () => (await getDb().select({ n: count() }).from(credentials).where(eq(credentials.ownerId, existing.registrationId)))[0]?.n;
    const credentialsBefore = await credentialCount();
    fake.setBehaviour(() => {});
    const lost = await rejection(registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key(), overrides: { clientName: 'Other' } }, { fetchInit: { headersTimeoutMs: 300, totalTimeoutMs: 500 } }));
    const operationId = String(lost.details?.operationId);
    const view = await reconcileOperation(ops.actor, { operationId, resolution: { outcome: 'registered', clientId: existing.clientId } });
    expect(view).toMatchObject({ status: 'succeeded', registration: { id: existing.registrationId, clientId: existing.clientId } });
    // No credentials were invented for it.
    expect(await credentialCount()).toBe(credentialsBefore);
  });

  it('an orphan client (recorded, never stored) waits for a person until they close it once the hospital dealt with it; then it leaves the list', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(() => {});
    const lost = await rejection(registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() }, { fetchInit: { headersTimeoutMs: 300, totalTimeoutMs: 500 } }));
    const operationId = String(lost.details?.operationId);
    // Closing is for an orphan client only: not for an unknown outcome nobody has looked into.
    expect(await rejection(closeOperation(ops.actor, { operationId }))).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/this one is outcome unknown/) });

    const orphan = `orphan-${uniqueSuffix()}`;
    const recorded = await reconcileOperation(ops.actor, { operationId, resolution: { outcome: 'registered', clientId: orphan } });
    expect(recorded).toMatchObject({ status: 'needs_recovery', canClose: true, canResolve: false });
    expect(recorded.guidance.steps.join(' ')).toMatch(/close this operation/);
    expect((await listOperationsNeedingAttention(ops.actor)).map((o) => o.id)).toContain(operationId);
    expect((await getOperationOrThrow(manager.actor, operationId)).canClose).toBe(false);
    expect(await rejection(closeOperation(manager.actor, { operationId }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await rejection(closeOperation(support.actor, { operationId }))).toMatchObject({ code: 'FORBIDDEN' });

    const closed = await closeOperation(ops.actor, { operationId, note: '  Hospital deleted it (ticket 4411)  ' });
    expect(closed).toMatchObject({ status: 'failed', canClose: false, resolution: { outcome: 'registered', clientId: orphan, closed: { note: 'Hospital deleted it (ticket 4411)' } } });
    expect(closed.guidance.headline).toBe(`Closed: client ${orphan} was dealt with at the hospital.`);
    expect(closed.error?.message).toMatch(/Registrar stored nothing from this submission/);
    expect((await listOperationsNeedingAttention(ops.actor)).map((o) => o.id)).not.toContain(operationId);
    const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.targetId, operationId), eq(auditLog.action, 'registration.operation.close')));
    expect(audit).toMatchObject({ actorLabel: expect.any(String), details: expect.objectContaining({ previousStatus: 'needs_recovery', clientId: orphan, note: 'Hospital deleted it (ticket 4411)' }) });
    // Once only.
    expect(await rejection(closeOperation(ops.actor, { operationId }))).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already closed/) });
    expect(await rejection(closeOperation(ops.actor, { operationId: randomUUID() }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses support and unknown operations', async () => {
    expect(await rejection(reconcileOperation(support.actor, { operationId: randomUUID() }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await rejection(reconcileOperation(ops.actor, { operationId: randomUUID() }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await rejection(getOperationOrThrow(manager.actor, randomUUID()))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('counts what needs a person for the links to it (an abandoned in-flight one once it is stale), and tells support nothing', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const before = (await countOperationsNeedingAttention(ops.actor))!;
    await getDb().insert(registrationOperations).values({ idempotencyKey: `count-${randomUUID()}`, requestHash: 'x', status: 'outcome_unknown', issuerId, appId, environment: 'production', request: {}, createdBy: 'test' });
    await getDb().insert(registrationOperations).values({ idempotencyKey: `count-${randomUUID()}`, requestHash: 'x', status: 'in_flight', issuerId, appId, environment: 'production', request: {}, createdBy: 'test' });
    // Other test files may add some meanwhile: at least the unknown one, and the fresh in-flight one only once stale.
    expect(await countOperationsNeedingAttention(ops.actor)).toBeGreaterThanOrEqual(before + 1);
    const later = new Date(Date.now() + 60 * 60_000);
    expect(await countOperationsNeedingAttention(manager.actor, { now: later })).toBeGreaterThanOrEqual(before + 2);
    expect(await countOperationsNeedingAttention(support.actor)).toBeNull();
  });
});
