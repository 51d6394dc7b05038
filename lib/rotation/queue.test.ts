import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, databaseUrl, getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { auditLog, credentials, registrations, rotations } from '@/db/schema';
import { actorLabel } from '@/lib/auth/actor';
import { Slots } from '@/lib/concurrency';
import { readCurrentCredential } from '@/lib/credentials/store';
import { updateClientRegistration } from '@/lib/oauth/registration';
import { getBoss, startJobs, stopJobs } from '@/lib/jobs/boss';
import { findManagementRecoveryFile } from '@/lib/registrations/recovery';
import { whileCredentialsRefused } from '@/test/support/refuse-credentials';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { createRotations } from './create';
import { MAX_UNFINISHED_RUNS } from './internal';
import { resumeRotation } from './run';
import { runRotationBatch } from './batch';
import { storeAnswersSettled } from './store-answers';
import { latestServerAnswer, loadContexts, type UpdateContext } from './update-step';
import { bulkRotationProgress, startBulkRotation } from './bulk';
import { enqueueRotationBatches, enqueueRotationRuns, registerRotationJobs, ROTATION_QUEUES } from './jobs';
import { reconcileRenewals } from './renewals';
import { runRotationScan } from './scan';
import { setRotationOverrides } from './settings';
import { allowlist, clientCredentialsApp, register, registrationRow, sandboxIssuer } from './test-support';

/**
 * The job path against a real node-oidc-provider that issues a new secret on RFC 7592 update
 * (the sandbox's General Hospital with generalIssuesSecretOnUpdate): one scan plans every due
 * registration at once and queues one rotation-run job each; pg-boss workers run them.
 */
let sandbox: Sandbox;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {}, generalIssuesSecretOnUpdate: true });
  const admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, sandbox.general.origin);
  issuerId = (await sandboxIssuer(ops.actor, sandbox.general.fhirBase)).id;
  await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuerId, overrides: { updateIssuesSecret: true } });
});

afterAll(async () => {
  await stopJobs();
  await sandbox.stop();
  await closeDb();
});

async function tokenStatus(clientId: string, secret: string): Promise<number> {
  const res = await fetch(`${sandbox.general.origin}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.read' }),
  });
  return res.status;
}

describe('creating rotations in bulk', () => {
  it('starts new ones, joins active ones, refuses unknown and unrotatable registrations, and ignores duplicates', async () => {
    const { appId } = await clientCredentialsApp();
    const a = await register(ops.actor, issuerId, appId);
    const b = await register(ops.actor, issuerId, appId);
    const { appId: publicApp } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'none' } } });
    const pub = await register(ops.actor, issuerId, publicApp);
    const unknown = '00000000-0000-4000-8000-000000000000';

    const first = await createRotations(ops.actor, [a.registrationId], 'bulk');
    expect(first.rotations).toEqual([expect.objectContaining({ registrationId: a.registrationId, created: true })]);

    const result = await createRotations(ops.actor, [a.registrationId, b.registrationId, b.registrationId, pub.registrationId, unknown], 'bulk');
    const byId = new Map(result.rotations.map((r) => [r.registrationId, r]));
    expect(byId.get(a.registrationId)).toMatchObject({ created: false, rotation: { id: first.rotations[0]!.rotation.id } });
    expect(byId.get(b.registrationId)).toMatchObject({ created: true, rotation: { strategy: 'rfc7592_update', state: 'planned', trigger: 'bulk' } });
    expect(result.rotations).toHaveLength(2);
    expect(result.refused).toEqual(
      expect.arrayContaining([
        { registrationId: unknown, reason: 'That registration does not exist.' },
        { registrationId: pub.registrationId, reason: expect.stringMatching(/no credential to rotate/) },
      ]),
    );
    // Exactly one planned rotation for b, whatever the duplicates.
    const stored = await getDb().select().from(rotations).where(inArray(rotations.registrationId, [b.registrationId]));
    expect(stored).toHaveLength(1);
    // What createRotations returns is the row as the query builder reads it (dates, plan, counters).
    expect(byId.get(b.registrationId)!.rotation).toEqual(stored[0]);
    expect(stored[0]!.createdAt).toBeInstanceOf(Date);
    // One start audit row per rotation created, none for the joined one.
    const starts = await getDb()
      .select({ targetId: auditLog.targetId, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'rotation.start'), inArray(auditLog.targetId, [a.registrationId, b.registrationId])));
    expect(starts.map((s) => s.targetId).sort()).toEqual([a.registrationId, b.registrationId].sort());
    expect(starts.find((s) => s.targetId === b.registrationId)!.details).toMatchObject({ rotationId: stored[0]!.id, strategy: 'rfc7592_update', trigger: 'bulk' });
  });
});

describe('rotation through the job queue', () => {
  it('one scan queues every due registration in batches; the batch worker rotates each with one update, the new secret works and the old one does not', async () => {
    const { appId } = await clientCredentialsApp();
    const registered = [];
    for (let i = 0; i < 10; i++) registered.push(await register(ops.actor, issuerId, appId));
    const ids = registered.map((r) => r.registrationId);
    const oldSecrets = new Map<string, string>();
    for (const id of ids) oldSecrets.set(id, (await readCurrentCredential(getDb(), 'registration', id, 'client_secret'))!.plaintext);
    await getDb().update(registrations).set({ rotationPolicy: 'automatic' }).where(inArray(registrations.id, ids));
    await reconcileRenewals({ issuerId });
    await getDb().update(registrations).set({ renewAt: sql`now() - interval '1 minute'` }).where(inArray(registrations.id, ids));

    registerRotationJobs();
    await startJobs(databaseUrl());
    const boss = getBoss()!;
    const scan = await runRotationScan({ issuerId, dispatchMany: (rotationIds) => enqueueRotationBatches(boss, rotationIds) });
    const started = (await getDb().select({ id: rotations.id }).from(rotations).where(inArray(rotations.registrationId, ids))).map((r) => r.id);
    expect(scan.started.sort()).toEqual(started.sort());
    expect(started).toHaveLength(10);
    // Queued again one by one (a second scan, another instance): still one waiting job per rotation.
    await enqueueRotationRuns(boss, started);
    const queued = await getDb().execute<{ key: string; waiting: number }>(
      sql`select singleton_key as key, count(*) filter (where state = 'created')::int as waiting from pgboss.job where name = ${ROTATION_QUEUES.run} and singleton_key in ${started} group by singleton_key`,
    );
    expect(queued.rows.map((r) => r.key).sort()).toEqual([...started].sort());
    expect(Math.max(...queued.rows.map((r) => r.waiting))).toBeLessThanOrEqual(1);

    const deadline = Date.now() + 30_000;
    let states: Array<{ state: string }> = [];
    while (Date.now() < deadline) {
      states = await getDb().select({ state: rotations.state }).from(rotations).where(inArray(rotations.id, started));
      if (states.every((s) => s.state === 'current' || s.state === 'failed')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(states.map((s) => s.state)).toEqual(Array(10).fill('current'));
    // Nobody started these: the switch is the job's alone.
    const switchedBy = await getDb().selectDistinct({ actorLabel: auditLog.actorLabel }).from(auditLog).where(and(inArray(auditLog.targetId, ids), eq(auditLog.action, 'rotation.switch')));
    expect(switchedBy).toEqual([{ actorLabel: 'job:rotation' }]);

    for (const reg of registered) {
      const current = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!;
      expect(current.version).toBe(2);
      expect(current.plaintext).not.toBe(oldSecrets.get(reg.registrationId));
      expect(await tokenStatus(reg.clientId, current.plaintext)).toBe(200);
      expect(await tokenStatus(reg.clientId, oldSecrets.get(reg.registrationId)!)).toBe(401);
      const row = await registrationRow(reg.registrationId);
      expect(row.lastRotatedAt).not.toBeNull();
      expect(row.secretExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
      // The next renewal is planned with the switch (two thirds of 30 days), on the basis of the new expiry.
      expect(row.renewAt!.getTime()).toBeGreaterThan(Date.now() + 19 * 86_400_000);
      expect(row.renewBasisKind).toBe('at');
      expect(row.renewBasisAt!.getTime()).toBe(row.secretExpiresAt!.getTime());
      // The answer is the server record now: the next update needs no GET.
      expect(row.serverMetadata).toMatchObject({ client_id: reg.clientId });
      expect(row.lastCheckedAt!.getTime()).toBeGreaterThanOrEqual(row.updatedAt.getTime());
    }
    const secretsPerRegistration = await getDb()
      .select({ owner: credentials.ownerId, current: sql<number>`count(*) filter (where ${credentials.state} = 'current')::int`, all: sql<number>`count(*)::int` })
      .from(credentials)
      .where(sql`${credentials.ownerId} in ${ids} and ${credentials.kind} = 'client_secret'`)
      .groupBy(credentials.ownerId);
    // One update each: exactly the old and the new secret, one of them current.
    expect(secretsPerRegistration.map((r) => [r.current, r.all])).toEqual(Array(10).fill([1, 2]));
  });
});

describe('a run left active by a crashed instance', () => {
  it('does not hold up the queue: the rotation queued again runs at once, and so do the others', async () => {
    const { appId } = await clientCredentialsApp();
    const regs = [await register(ops.actor, issuerId, appId), await register(ops.actor, issuerId, appId)];
    const created = await createRotations(ops.actor, regs.map((r) => r.registrationId), 'bulk');
    const [crashed, other] = created.rotations.map((r) => r.rotation.id) as [string, string];

    registerRotationJobs();
    await startJobs(databaseUrl());
    const boss = getBoss()!;
    // An instance fetched this rotation's run and died: its job stays active until it expires
    // (15 minutes). Queued not to start before then, so no live worker takes it first.
    const deadJob = await boss.send(ROTATION_QUEUES.run, { rotationId: crashed }, { singletonKey: crashed, retryLimit: 0, startAfter: 3600 });
    expect(deadJob).not.toBeNull();
    await getDb().execute(sql`update pgboss.job set state = 'active', started_on = now() where name = ${ROTATION_QUEUES.run} and id = ${deadJob}::uuid`);

    // The scan resumes both (it does so for a rotation that made no progress for two minutes).
    await enqueueRotationRuns(boss, [crashed, other]);
    const deadline = Date.now() + 20_000;
    let states: Array<{ id: string; state: string }> = [];
    while (Date.now() < deadline) {
      states = await getDb().select({ id: rotations.id, state: rotations.state }).from(rotations).where(inArray(rotations.id, [crashed, other]));
      if (states.every((r) => r.state === 'current')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Object.fromEntries(states.map((r) => [r.id, r.state]))).toEqual({ [crashed]: 'current', [other]: 'current' });
    await getDb().execute(sql`update pgboss.job set state = 'failed' where id = ${deadJob}::uuid`);
  });
});

describe('a rotation batch', () => {
  async function dueRotations(n: number) {
    const { appId } = await clientCredentialsApp();
    const regs = [];
    for (let i = 0; i < n; i++) regs.push(await register(ops.actor, issuerId, appId));
    const created = await createRotations(ops.actor, regs.map((r) => r.registrationId), 'bulk');
    expect(created.refused).toEqual([]);
    const byRegistration = new Map(created.rotations.map((r) => [r.registrationId, r.rotation.id]));
    // In registration order, so that rotationIds[i] rotates regs[i].
    return { regs, rotationIds: regs.map((r) => byRegistration.get(r.registrationId)!) };
  }

  it('rotates the plain ones together and hands the rest to their own runs (a back-off not yet over stays waiting)', async () => {
    const { regs, rotationIds } = await dueRotations(4);
    const waiting = rotationIds[3]!;
    await getDb().update(rotations).set({ nextAttemptAt: new Date(Date.now() + 3_600_000) }).where(eq(rotations.id, waiting));
    const result = await runRotationBatch([...rotationIds, '00000000-0000-4000-8000-000000000000'], { concurrency: 2 });
    expect(result.rotated.sort()).toEqual(rotationIds.slice(0, 3).sort());
    expect(result.individually).toEqual(expect.arrayContaining([waiting, '00000000-0000-4000-8000-000000000000']));
    const states = new Map((await getDb().select().from(rotations).where(inArray(rotations.id, rotationIds))).map((r) => [r.id, r]));
    for (const id of rotationIds.slice(0, 3)) expect(states.get(id)).toMatchObject({ state: 'current', verifiedBy: 'hospital answer (RFC 7592 update)', putStartedAt: null });
    expect(states.get(waiting)?.state).toBe('planned');
    expect(await secretVersionsOf(regs.slice(0, 3).map((r) => r.registrationId))).toEqual([[2, 2], [2, 2], [2, 2]]);
  });

  it('sends no PUT for a stalled rotation nor for one whose unfinished runs reached the limit: the first waits for a person, the second stalls', async () => {
    const { regs, rotationIds } = await dueRotations(3);
    const [plain, stalled, worn] = rotationIds as [string, string, string];
    await getDb().update(rotations).set({ stalledAt: new Date() }).where(eq(rotations.id, stalled));
    await getDb().update(rotations).set({ unfinishedRuns: MAX_UNFINISHED_RUNS }).where(eq(rotations.id, worn));
    const result = await runRotationBatch(rotationIds, { concurrency: 2 });
    expect(result.rotated).toEqual([plain]);
    expect(result.individually.sort()).toEqual([stalled, worn].sort());
    const rows = new Map((await getDb().select().from(rotations).where(inArray(rotations.id, rotationIds))).map((r) => [r.id, r]));
    expect(rows.get(plain)?.state).toBe('current');
    expect(rows.get(stalled)).toMatchObject({ state: 'planned', putStartedAt: null, error: null });
    expect(rows.get(worn)).toMatchObject({ state: 'planned', putStartedAt: null, error: { code: 'INTERRUPTED' } });
    expect(rows.get(worn)?.stalledAt).not.toBeNull();
    expect(await secretVersionsOf(regs.map((r) => r.registrationId))).toEqual([[2, 2], [1, 1], [1, 1]]);
  });

  it('a rotation whose PUT the batch sent and handed over (refused) ended that run: its own run counts from 1', async () => {
    const { regs, rotationIds } = await dueRotations(1);
    const context = (await loadContexts([regs[0]!.registrationId])).get(regs[0]!.registrationId) as UpdateContext;
    // The client is gone at General: the batch's PUT is refused and the rotation handed to its own run.
    const deleted = await fetch(context.reg.registrationClientUri, { method: 'DELETE', headers: { authorization: `Bearer ${context.used.rat}` } });
    expect(deleted.status).toBe(204);
    let marks = 0;
    const result = await runRotationBatch(rotationIds, {
      deps: {
        afterStep: (step) => {
          // The batch marks the PUT first; the second mark is the rotation's own run, which dies there.
          if (step === 'put_started' && ++marks === 2) throw new Error('simulated crash of its own run');
        },
      },
    });
    expect(result.individually).toEqual(rotationIds);
    expect(marks).toBe(2);
    const [row] = await getDb().select().from(rotations).where(eq(rotations.id, rotationIds[0]!));
    expect(row).toMatchObject({ state: 'in_flight', unfinishedRuns: 1 });
  });

  it('two batches that share PUT slots (the job workers) run at once without more PUTs at the hospital than the slots allow', async () => {
    const first = await dueRotations(6);
    const second = await dueRotations(6);
    // PUTs between leaving (request created) and the hospital's answer (response headers).
    let out = 0;
    let peak = 0;
    const sent = (message: unknown) => {
      if ((message as { request: { method: string } }).request.method !== 'PUT') return;
      out++;
      peak = Math.max(peak, out);
    };
    const answered = (message: unknown) => {
      if ((message as { request: { method: string } }).request.method === 'PUT') out--;
    };
    diagnostics.subscribe('undici:request:create', sent);
    diagnostics.subscribe('undici:request:headers', answered);
    diagnostics.subscribe('undici:request:error', answered);
    try {
      const slots = new Slots(2);
      const results = await Promise.all([runRotationBatch(first.rotationIds, { slots }), runRotationBatch(second.rotationIds, { slots })]);
      expect(results.map((r) => r.rotated.length)).toEqual([6, 6]);
      expect(results.flatMap((r) => r.individually)).toEqual([]);
    } finally {
      diagnostics.unsubscribe('undici:request:create', sent);
      diagnostics.unsubscribe('undici:request:headers', answered);
      diagnostics.unsubscribe('undici:request:error', answered);
    }
    expect(peak).toBe(2);
    expect(await secretVersionsOf([...first.regs, ...second.regs].map((r) => r.registrationId))).toEqual(Array.from({ length: 12 }, () => [2, 2]));
  });

  it('an answer that cannot be stored fails alone: the others of its group are stored and finish', async () => {
    const { regs, rotationIds } = await dueRotations(3);
    const contexts = await loadContexts(regs.map((r) => r.registrationId));
    const rots = new Map((await getDb().select().from(rotations).where(inArray(rotations.id, rotationIds))).map((r) => [r.registrationId, r]));
    // Real answers: each registration updated at General, which issues a new secret.
    const answers = await Promise.all(
      regs.map(async ({ registrationId }) => {
        const context = contexts.get(registrationId) as UpdateContext;
        const response = await updateClientRegistration({ registrationClientUri: context.reg.registrationClientUri, registrationAccessToken: context.used.rat, lastServerMetadata: latestServerAnswer(context.reg)!, changes: {}, fetchInit: { policy: context.policy } });
        return { actor: ops.actor, rot: rots.get(registrationId)!, reg: context.reg, renewal: context.renewal, response, used: context.used, op: 'update' as const };
      }),
    );
    // The database refuses the second registration's new credentials (a fault no real peer produces on demand).
    const refused = regs[1]!.registrationId;
    const results = await whileCredentialsRefused(refused, () => storeAnswersSettled(answers));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'NEEDS_RECOVERY', details: { recoveryFile: expect.stringMatching(/management-/) } } });
    // Its new secret is not dropped: it waits, sealed, in a recovery file for `npm run recover`.
    expect(await findManagementRecoveryFile(refused)).not.toBeNull();
    for (const i of [0, 2]) expect(results[i]).toMatchObject({ status: 'fulfilled', value: { newSecret: true, rotation: { state: 'current' } } });
    expect(await secretVersionsOf(regs.map((r) => r.registrationId))).toEqual([[2, 2], [1, 1], [2, 2]]);
  });

  it('renews each registration by its own app’s policy, whatever the others in the batch', async () => {
    const { appId: plainApp } = await clientCredentialsApp();
    const { appId: halfLifeApp } = await clientCredentialsApp();
    // General's secrets live 30 days: by default renewed at two thirds (day 20); this app at half (day 15).
    await setRotationOverrides(ops.actor, { kind: 'app', id: halfLifeApp, overrides: { lifetimeFraction: 0.5 } });
    const regs = [await register(ops.actor, issuerId, plainApp), await register(ops.actor, issuerId, halfLifeApp), await register(ops.actor, issuerId, plainApp), await register(ops.actor, issuerId, halfLifeApp)];
    const created = await createRotations(ops.actor, regs.map((r) => r.registrationId), 'bulk');
    const result = await runRotationBatch(created.rotations.map((r) => r.rotation.id), { concurrency: 2 });
    expect(result.rotated).toHaveLength(4);
    for (const [i, reg] of regs.entries()) {
      const row = await registrationRow(reg.registrationId);
      const lifetime = row.secretExpiresAt!.getTime() - row.lastRotatedAt!.getTime();
      const renewAfter = (row.renewAt!.getTime() - row.lastRotatedAt!.getTime()) / lifetime;
      expect(renewAfter).toBeCloseTo(i % 2 === 1 ? 0.5 : 2 / 3, 1);
    }
  });

  it('a crash right after the PUTs were marked as sent: each resumes on its own (a read finds no change, the update is sent once) and converges', async () => {
    const { regs, rotationIds } = await dueRotations(3);
    class Crash extends Error {}
    await expect(
      runRotationBatch(rotationIds, {
        deps: {
          afterStep: (step) => {
            if (step === 'put_started') throw new Crash('simulated crash');
          },
        },
      }),
    ).rejects.toBeInstanceOf(Crash);
    const marked = await getDb().select().from(rotations).where(inArray(rotations.id, rotationIds));
    // Each counts the batch's run of its in-flight step, which its process did not survive.
    expect(marked.every((r) => r.state === 'in_flight' && r.putStartedAt !== null && r.unfinishedRuns === 1)).toBe(true);
    for (const id of rotationIds) await resumeRotation(id);
    const after = await getDb().select({ state: rotations.state }).from(rotations).where(inArray(rotations.id, rotationIds));
    expect(after.map((r) => r.state)).toEqual(['current', 'current', 'current']);
    expect(await secretVersionsOf(regs.map((r) => r.registrationId))).toEqual([[2, 2], [2, 2], [2, 2]]);
    for (const reg of regs) {
      const current = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!;
      expect(await tokenStatus(reg.clientId, current.plaintext)).toBe(200);
    }
  });

  it('a crash right after an answer was stored stops the batch while other PUTs are out; a rerun sends nothing again and converges', async () => {
    const { regs, rotationIds } = await dueRotations(4);
    class Crash extends Error {}
    let crashed = false;
    await expect(
      runRotationBatch(rotationIds, {
        concurrency: 2,
        deps: {
          afterStep: (step) => {
            if (step === 'current' && !crashed) {
              crashed = true;
              throw new Crash('simulated crash after the first stored answer');
            }
          },
        },
      }),
    ).rejects.toBeInstanceOf(Crash);
    for (const id of rotationIds) await resumeRotation(id);
    const after = await getDb().select({ state: rotations.state }).from(rotations).where(inArray(rotations.id, rotationIds));
    expect(after.map((r) => r.state)).toEqual(['current', 'current', 'current', 'current']);
    // One new secret per registration: no answer was lost and no PUT was sent twice.
    expect(await secretVersionsOf(regs.map((r) => r.registrationId))).toEqual([[2, 2], [2, 2], [2, 2], [2, 2]]);
    for (const reg of regs) {
      const current = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!;
      expect(await tokenStatus(reg.clientId, current.plaintext)).toBe(200);
    }
  });
});

describe('bulk rotation of a selection', () => {
  it('ops start it and follow its progress to the end; a manager can follow but not start it', async () => {
    const { appId } = await clientCredentialsApp();
    const regs = [];
    for (let i = 0; i < 3; i++) regs.push(await register(ops.actor, issuerId, appId));
    const ids = regs.map((r) => r.registrationId);
    const manager = await insertUser({ role: 'manager' });
    await expect(startBulkRotation(manager.actor, { registrationIds: ids })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await getDb().select().from(rotations).where(inArray(rotations.registrationId, ids))).toEqual([]);

    const started = await startBulkRotation(ops.actor, { registrationIds: [...ids, ids[0]!] });
    expect(started).toMatchObject({ started: 3, joined: 0, refused: [] });
    const deadline = Date.now() + 30_000;
    let progress = await bulkRotationProgress(manager.actor, { bulkId: started.bulkId });
    while (!progress.done && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      progress = await bulkRotationProgress(manager.actor, { bulkId: started.bulkId });
    }
    expect(progress.counts).toEqual({ total: 3, current: 3, failed: 0, waiting: 0, retrying: 0, running: 0 });
    expect(progress.rows.map((r) => r.registrationId).sort()).toEqual([...ids].sort());
    expect(progress.rows.every((r) => r.newClientId === null)).toBe(true);
    expect(JSON.stringify(progress)).not.toMatch(/secret"|registration_access_token/);
    expect(await secretVersionsOf(ids)).toEqual([[2, 2], [2, 2], [2, 2]]);
    // The switch happened on the queue, and the audit still names the person who started it.
    const switches = await getDb()
      .select({ actorType: auditLog.actorType, actorLabel: auditLog.actorLabel })
      .from(auditLog)
      .where(and(inArray(auditLog.targetId, ids), eq(auditLog.action, 'rotation.switch')));
    expect(switches).toEqual(ids.map(() => ({ actorType: 'system', actorLabel: `job:rotation for ${actorLabel(ops.actor)}` })));
    await expect(bulkRotationProgress(manager.actor, { bulkId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('counts a stalled rotation as waiting for a person, so the bulk rotation is done once the others are', async () => {
    const { appId } = await clientCredentialsApp();
    const regs = [await register(ops.actor, issuerId, appId), await register(ops.actor, issuerId, appId)];
    const bulkId = randomUUID();
    const created = await createRotations(ops.actor, regs.map((r) => r.registrationId), 'bulk', { bulkId });
    const [done, stalled] = created.rotations.map((r) => r.rotation.id) as [string, string];
    await getDb().update(rotations).set({ state: 'current', finishedAt: new Date() }).where(eq(rotations.id, done));
    await getDb().update(rotations).set({ state: 'in_flight', stalledAt: new Date() }).where(eq(rotations.id, stalled));
    const progress = await bulkRotationProgress(ops.actor, { bulkId });
    expect(progress.counts).toMatchObject({ total: 2, current: 1, waiting: 1, running: 0 });
    expect(progress.done).toBe(true);
  });

  it('counts a rotation backed off for more than a minute as retrying later, not running: the bulk rotation is done meanwhile', async () => {
    const { appId } = await clientCredentialsApp();
    const regs = [await register(ops.actor, issuerId, appId), await register(ops.actor, issuerId, appId), await register(ops.actor, issuerId, appId)];
    const bulkId = randomUUID();
    const created = await createRotations(ops.actor, regs.map((r) => r.registrationId), 'bulk', { bulkId });
    const [done, later, soon] = created.rotations.map((r) => r.rotation.id) as [string, string, string];
    await getDb().update(rotations).set({ state: 'current', finishedAt: new Date() }).where(eq(rotations.id, done));
    const nextAttemptAt = new Date(Date.now() + 3_600_000);
    await getDb().update(rotations).set({ state: 'in_flight', nextAttemptAt }).where(eq(rotations.id, later));
    // Due within the minute: still in progress.
    await getDb().update(rotations).set({ state: 'in_flight', nextAttemptAt: new Date(Date.now() + 20_000) }).where(eq(rotations.id, soon));
    let progress = await bulkRotationProgress(ops.actor, { bulkId });
    expect(progress.counts).toMatchObject({ total: 3, current: 1, retrying: 1, running: 1 });
    expect(progress.done).toBe(false);
    await getDb().update(rotations).set({ state: 'current', finishedAt: new Date() }).where(eq(rotations.id, soon));
    progress = await bulkRotationProgress(ops.actor, { bulkId });
    expect(progress).toMatchObject({ counts: { current: 2, retrying: 1, running: 0 }, nextRetryAt: nextAttemptAt.toISOString(), done: true });
  });

  it("shows a re-registration's new client beside the one it replaces", async () => {
    const { appId } = await clientCredentialsApp();
    const old = await register(ops.actor, issuerId, appId);
    const replacement = await register(ops.actor, issuerId, appId);
    const bulkId = randomUUID();
    const created = await createRotations(ops.actor, [old.registrationId], 'bulk', { bulkId });
    const rotationId = created.rotations[0]!.rotation.id;
    // Where a finished re-registration leaves its row (the strategy itself is tested in general.test.ts).
    await getDb().update(rotations).set({ strategy: 're_registration', state: 'current', newRegistrationId: replacement.registrationId, finishedAt: new Date() }).where(eq(rotations.id, rotationId));
    const progress = await bulkRotationProgress(ops.actor, { bulkId });
    expect(progress.rows).toEqual([expect.objectContaining({ clientId: old.clientId, newClientId: replacement.clientId, newRegistrationId: replacement.registrationId })]);
  });
});

async function secretVersionsOf(registrationIds: string[]) {
  const rows = await getDb()
    .select({ owner: credentials.ownerId, current: sql<number>`max(${credentials.version}) filter (where ${credentials.state} = 'current')::int`, n: sql<number>`count(*)::int` })
    .from(credentials)
    .where(sql`${credentials.ownerId} in ${registrationIds} and ${credentials.kind} = 'client_secret'`)
    .groupBy(credentials.ownerId);
  const byOwner = new Map(rows.map((r) => [r.owner, [r.current, r.n]]));
  return registrationIds.map((id) => byOwner.get(id));
}
