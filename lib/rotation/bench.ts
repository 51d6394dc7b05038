import 'server-only';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { eq, inArray, sql } from 'drizzle-orm';
import { uuidIn } from '@/db/any-of';
import { databaseUrl, getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { outboundAllowlist, registrations, rotations } from '@/db/schema';
import { seedScale } from '@/db/seed';
import { mapWithConcurrency } from '@/lib/concurrency';
import { readCurrentCredential } from '@/lib/credentials/store';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addIssuer } from '@/lib/issuers/add-issuer';
import { getBoss, startJobs, stopJobs } from '@/lib/jobs/boss';
import { updateClientRegistration } from '@/lib/oauth/registration';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { registerApp } from '@/lib/registrations/register';
import type { HospitalInfo } from '@/sandbox/index';
import { enqueueRotationBatches, registerRotationJobs } from './jobs';
import { reconcileRenewals } from './renewals';
import { dueForRenewal, dueForRenewalQuery, runRotationScan } from './scan';
import { setRotationOverrides } from './settings';

type Row = { label: string; value: string };

function describeCpu(ms: Record<string, number>): string {
  return Object.entries(ms)
    .map(([side, t]) => `${side} ${(t / 1000).toFixed(2)} s`)
    .join(', ');
}

/**
 * Registrations rotated through the job path, untimed, before the timed run (see benchBulkRotation):
 * ten batches, so the per-rotation code runs compiled and optimised, as a long-running server's
 * does and as the baseline's client code does when it is timed (after 5,000 PUTs: the warm-up
 * rounds and the job phase). Measured alternately: with 300 the job phase took 1.80–2.45 s and
 * Registrar 1.09–1.49 s of CPU, with 1,000 1.52–2.23 s and 0.84–1.21 s (3 runs each); with 100
 * an earlier session saw 15–25% more CPU than with 300.
 */
const WARM_UP = 1000;

/**
 * Rounds of raw PUTs on the warm-up registrations (untimed) before either timed phase, so both
 * meet a hospital whose update handling is equally warm. Without them the job phase, timed first,
 * met one that had served only the job-path warm-up's updates (300 then) and was still optimising
 * them: it spent 1.43–1.62 s of CPU on the job phase's 1,000 PUTs and 0.91–1.17 s on the same
 * 1,000 PUTs of the raw phase after it (4 runs). The registrations' stored tokens go stale;
 * nothing uses them afterwards.
 */
const HOSPITAL_WARM_UP_ROUNDS = 4;

async function warmHospitalUpdates(registrationIds: string[], concurrency: number): Promise<void> {
  const policy = await currentOutboundPolicy();
  const rows = await getDb().select().from(registrations).where(inArray(registrations.id, registrationIds));
  let chain = await Promise.all(
    rows.map(async (r) => ({ uri: r.registrationClientUri!, metadata: r.serverMetadata ?? r.registeredMetadata, rat: (await readCurrentCredential(getDb(), 'registration', r.id, 'registration_access_token'))!.plaintext })),
  );
  for (let round = 0; round < HOSPITAL_WARM_UP_ROUNDS; round++) {
    const answers = await mapWithConcurrency(chain, concurrency, (c) =>
      updateClientRegistration({ registrationClientUri: c.uri, registrationAccessToken: c.rat, lastServerMetadata: c.metadata, changes: {}, fetchInit: { policy } }),
    );
    // Each update rotates the registration access token: the next round uses the one it returned.
    chain = chain.map((c, i) => {
      const answer = answers[i]!;
      return answer.status === 'fulfilled' ? { uri: answer.value.registrationClientUri ?? c.uri, metadata: answer.value.metadata, rat: answer.value.registrationAccessToken ?? c.rat } : c;
    });
  }
}

/** A run that did not do the work it times: its ratio would describe nothing, so there is none. */
function incomplete(what: string, cause?: unknown): never {
  throw new Error(`The rotation bench stopped: ${what}, so its figures would not compare like with like.`, { cause });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * The scan's due-for-renewal query over 100,000 registrations (one current credential each):
 * prints its EXPLAIN (ANALYZE, BUFFERS) and the time per query (goal ≤ 100 ms, served by the
 * partial index registrations_renew_due_idx), plus the time to compute every renewal time once.
 * Runs on the bench database (scripts/bench.ts sets it up); seeds up to 100,000 rows if needed.
 */
export async function benchRotationScan(opts: { rows?: number } = {}): Promise<Row[]> {
  const target = opts.rows ?? 100_000;
  const db = getDb();
  const [count] = await db.select({ n: sql<number>`count(*)::int` }).from(registrations);
  if ((count?.n ?? 0) < target) await seedScale(target - (count?.n ?? 0));
  // A third of them rotate automatically (the seed leaves every registration manual).
  await db.execute(sql`update registrations set rotation_policy = 'automatic' where ('x' || substr(md5(id::text), 1, 8))::bit(32)::int % 3 = 0`);

  const t0 = performance.now();
  const reconciled = await reconcileRenewals({ batchSize: 5000 });
  const reconcileMs = performance.now() - t0;
  await db.execute(sql`vacuum analyze registrations`);
  await db.execute(sql`vacuum analyze rotations`);

  const now = new Date();
  const query = dueForRenewalQuery(now, 'automatic', 500);
  const plan = await db.execute<{ 'QUERY PLAN': string }>(sql`explain (analyze, buffers) ${query}`);
  console.info(`\nEXPLAIN (ANALYZE, BUFFERS) of the due-for-renewal query over ${target.toLocaleString()} registrations:\n`);
  console.info(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
  const usesIndex = plan.rows.some((r) => r['QUERY PLAN'].includes('registrations_renew_due_idx'));

  for (let i = 0; i < 5; i++) await db.execute(query); // warm-up
  const times: number[] = [];
  let due = 0;
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    const result = await db.execute(query);
    times.push(performance.now() - t);
    due = result.rows.length;
  }
  const manual = dueForRenewalQuery(now, 'manual', 10_000);
  const tm = performance.now();
  const manualRows = (await db.execute(manual)).rows.length;
  const manualMs = performance.now() - tm;
  return [
    { label: `rotation scan: due-for-renewal query over ${target.toLocaleString()} registrations, limit 500 (p50 / p95 of 50, goal ≤ 100 ms)`, value: `${percentile(times, 50).toFixed(1)} / ${percentile(times, 95).toFixed(1)} ms, ${due} due, index ${usesIndex ? 'registrations_renew_due_idx used' : 'NOT used'}` },
    { label: 'rotation scan: manual-policy due count (up to 10,000 rows)', value: `${manualMs.toFixed(1)} ms for ${manualRows} rows` },
    { label: `rotation scan: computing every renewal time once (${reconciled.updated.toLocaleString()} rows, ${reconciled.unknown.toLocaleString()} unknown expiry)`, value: `${(reconcileMs / 1000).toFixed(2)} s` },
  ];
}

/**
 * 1,000 registrations due for rotation, rotated through the job path — the scheduled scan plans
 * them and queues one rotation-run job each, worked 8 at a time by pg-boss; RFC 7592 update at the
 * sandbox's General Hospital answering with a new secret — against 1,000 raw RFC 7592 PUTs at the
 * same concurrency against the same server: the cost of the scan, the queue, the state machine,
 * the intent marks, the vault and the audit over the bare protocol call. Both sides are timed warm:
 * WARM_UP other registrations go through the job path first, then HOSPITAL_WARM_UP_ROUNDS rounds of
 * raw PUTs on them (the baseline runs after the job path).
 */
export async function benchBulkRotation(opts: {
  count?: number;
  concurrency?: number;
  startHospital: () => Promise<{ general: HospitalInfo; pid?: number; stop(): Promise<void> }>;
  /** Starts measuring CPU time per side (this process, PostgreSQL, the hospital); the returned function stops (null: not measurable here). */
  measureCpu?: (hospitalPid: number | undefined) => () => Record<string, number> | null;
}): Promise<Row[]> {
  const count = opts.count ?? 1000;
  const concurrency = opts.concurrency ?? 8;
  // General Hospital answering RFC 7592 updates with a new secret, in a process of its own.
  const sandbox = await opts.startHospital();
  try {
    await getDb().insert(outboundAllowlist).values({ entry: `http://${new URL(sandbox.general.origin).host}` }).onConflictDoNothing();
    const ops = await insertUser({ role: 'ops' });
    const system = await createHealthSystem(ops.actor, { name: `Rotation bench ${randomUUID()}` });
    const issuer = await addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.issuer, environment: 'sandbox' });
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuer.id, overrides: { updateIssuesSecret: true } });
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read' } } });
    // `count` registrations to time, and WARM_UP more rotated first, untimed, through the same path:
    // the baseline's PUTs run on a warm hospital and a warm client (compiled code, connections,
    // caches), so the job path is timed warm too.
    const registered = await mapWithConcurrency(Array.from({ length: count + WARM_UP }), concurrency, () =>
      registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() }),
    );
    const refused = registered.find((r) => r.status === 'rejected');
    if (refused) incomplete(`${registered.filter((r) => r.status === 'rejected').length} of ${registered.length} registrations at the sandbox failed`, refused.reason);
    const allIds = registered.flatMap((r) => (r.status === 'fulfilled' ? [r.value.registrationId] : []));
    const warmIds = allIds.slice(0, WARM_UP);
    const ids = allIds.slice(WARM_UP);
    // Due: automatic policy, renewal times computed, then moved to a minute ago as if their time
    // had come (General's secrets live 30 days). Not timed.
    await getDb().update(registrations).set({ rotationPolicy: 'automatic' }).where(inArray(registrations.id, allIds));
    await reconcileRenewals({ issuerId: issuer.id });
    const makeDue = (which: string[]) => getDb().update(registrations).set({ renewAt: sql`now() - interval '1 minute'` }).where(inArray(registrations.id, which));

    // The job path: one scan plans every due registration and queues its rotation; 8 workers run them.
    process.env.REGISTRAR_ROTATION_CONCURRENCY = String(concurrency);
    registerRotationJobs();
    await startJobs(databaseUrl());
    const boss = getBoss()!;
    const jobPath = async (limit: number) => {
      const startedAt = new Date();
      const scan = await runRotationScan({ issuerId: issuer.id, limit, dispatchMany: (rotationIds) => enqueueRotationBatches(boss, rotationIds) });
      // Polled slowly, by primary key (the poll must not load the database it measures); the time is the last rotation's finish.
      const deadline = Date.now() + 30 * 60_000;
      let progress: { done: number; failed: number; lastFinish: Date | null } = { done: 0, failed: 0, lastFinish: null };
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const [row] = await getDb()
          .select({
            done: sql<number>`count(*) filter (where ${rotations.state} = 'current')::int`,
            failed: sql<number>`count(*) filter (where ${rotations.state} = 'failed')::int`,
            lastFinish: sql<string | null>`max(${rotations.finishedAt})`,
          })
          .from(rotations)
          .where(uuidIn(rotations.id, scan.started));
        progress = { done: row?.done ?? 0, failed: row?.failed ?? 0, lastFinish: row?.lastFinish ? new Date(row.lastFinish) : null };
        if (progress.done + progress.failed >= scan.started.length || Date.now() > deadline) break;
      }
      return { scan, ...progress, ms: (progress.lastFinish ?? new Date()).getTime() - startedAt.getTime() };
    };
    await makeDue(warmIds);
    await getDb().execute(sql`analyze`);
    const warm = await jobPath(WARM_UP);
    if (warm.done !== WARM_UP) incomplete(`the warm-up rotated ${warm.done} of ${WARM_UP} registrations (${warm.failed} failed)`);
    await warmHospitalUpdates(warmIds, concurrency);

    await makeDue(ids);
    // Statistics as autovacuum keeps them on a live database (the rows above were written moments ago).
    await getDb().execute(sql`analyze`);
    const due = await dueForRenewal(new Date(), 'automatic', count + 1, issuer.id);
    const jobCpu = opts.measureCpu?.(sandbox.pid);
    const { scan, done, failed, ms: jobMs } = await jobPath(count);
    const jobCpuMs = jobCpu?.() ?? null;
    if (scan.started.length !== count || done !== count) incomplete(`the job path started ${scan.started.length} and finished ${done} of ${count} rotations (${failed} failed)`);
    await stopJobs();
    const strategies = await getDb()
      .select({ strategy: rotations.strategy, n: sql<number>`count(*)::int` })
      .from(rotations)
      .where(inArray(rotations.id, scan.started))
      .groupBy(rotations.strategy);

    // The job path's writes are vacuumed here, untimed: left to autovacuum, that work could land in
    // the baseline's window (seen: 0.37 s of autovacuum CPU during the raw PUTs) and lower the ratio.
    await getDb().execute(sql`vacuum (analyze) registrations, credentials, rotations, audit_log`);
    // The baseline: one raw PUT per registration with its current registration access token, same concurrency.
    const policy = await currentOutboundPolicy();
    const rows = await getDb().select().from(registrations).where(inArray(registrations.id, ids));
    const inputs = await Promise.all(
      rows.map(async (r) => ({ uri: r.registrationClientUri!, metadata: r.serverMetadata ?? r.registeredMetadata, rat: (await readCurrentCredential(getDb(), 'registration', r.id, 'registration_access_token'))!.plaintext })),
    );
    const rawCpu = opts.measureCpu?.(sandbox.pid);
    const t1 = performance.now();
    const puts = await mapWithConcurrency(inputs, concurrency, (i) =>
      updateClientRegistration({ registrationClientUri: i.uri, registrationAccessToken: i.rat, lastServerMetadata: i.metadata, changes: {}, fetchInit: { policy } }),
    );
    const putMs = performance.now() - t1;
    const rawCpuMs = rawCpu?.() ?? null;
    const putFailures = puts.filter((p) => p.status === 'rejected').length;
    if (putFailures > 0) incomplete(`${putFailures} of ${inputs.length} raw PUTs failed`, (puts.find((p) => p.status === 'rejected') as PromiseRejectedResult).reason);
    const newSecrets = puts.filter((p) => p.status === 'fulfilled' && p.value.clientSecret).length;
    await getDb().update(registrations).set({ rotationPolicy: 'manual' }).where(eq(registrations.appId, appId));
    const perRotation = jobMs / Math.max(1, scan.started.length);
    const perPut = putMs / Math.max(1, inputs.length);
    return [
      {
        label: `${due.length} due registrations rotated through the job path (scan + pg-boss, concurrency ${concurrency}; strategy ${strategies.map((s) => `${s.strategy} ×${s.n}`).join(', ')})`,
        value: `${(jobMs / 1000).toFixed(2)} s (${((scan.started.length / jobMs) * 1000).toFixed(1)}/s), ${done} current, ${failed} failed`,
      },
      { label: `${inputs.length} raw RFC 7592 PUTs, concurrency ${concurrency}, same server`, value: `${(putMs / 1000).toFixed(2)} s (${((inputs.length / putMs) * 1000).toFixed(1)}/s), ${newSecrets} answered with a new secret, ${putFailures} failed` },
      { label: 'rotation via jobs / raw PUT, time per credential (goal ≤ 1.5)', value: `${(perRotation / perPut).toFixed(2)}×` },
      ...(jobCpuMs && rawCpuMs
        ? [
            { label: `for context: CPU time during the job path (${availableParallelism()} cores × ${(jobMs / 1000).toFixed(2)} s)`, value: describeCpu(jobCpuMs) },
            { label: `for context: CPU time during the raw PUTs (${availableParallelism()} cores × ${(putMs / 1000).toFixed(2)} s)`, value: describeCpu(rawCpuMs) },
          ]
        : []),
    ];
  } finally {
    await stopJobs().catch(() => {});
    await sandbox.stop();
  }
}
