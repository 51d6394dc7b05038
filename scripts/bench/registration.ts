import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import * as client from 'openid-client';
import { getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { outboundAllowlist, registrationOperations } from '@/db/schema';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addIssuer } from '@/lib/issuers/add-issuer';
import { registerClient } from '@/lib/oauth/registration';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { registerApp } from '@/lib/registrations/register';
import { median } from './db';
import { startSandboxProcess } from './sandbox-process';

/**
 * 200 registrations through Registrar's domain path (intent row, RFC 7591 POST through the safe
 * fetch, encrypted persistence, audit) vs 200 direct openid-client registrations of the same
 * metadata at the same server.
 */
export async function benchRegistration(): Promise<Array<{ label: string; value: string }>> {
  // The hospital runs in its own process, as a hospital does in life and as in the rotation bench:
  // the figures are then Registrar's work and the baseline's, not either mixed with the hospital's
  // on one event loop.
  const sandbox = await startSandboxProcess();
  try {
    await getDb().insert(outboundAllowlist).values({ entry: `http://${new URL(sandbox.general.origin).host}` }).onConflictDoNothing();
    const ops = await insertUser({ role: 'ops' });
    const system = await createHealthSystem(ops.actor, { name: `Bench ${randomUUID()}` });
    const issuer = await addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.issuer, environment: 'sandbox' });
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic' } } });

    const time = async (fn: () => Promise<unknown>, times: number[]) => {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    };
    // This machine's speed drifts over seconds, so the two sides run in alternating blocks of 20
    // (each block keeps its own steady state; a block's first call is the only transition).
    const alternate = async (a: () => Promise<unknown>, b: () => Promise<unknown>) => {
      const timesA: number[] = [];
      const timesB: number[] = [];
      for (let block = 0; block < 10; block++) {
        for (let i = 0; i < 20; i++) await time(a, timesA);
        for (let i = 0; i < 20; i++) await time(b, timesB);
      }
      return [median(timesA), median(timesB)] as const;
    };
    // Warm both paths once so module loading and first connections are not counted.
    const warm = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
    // The direct registrations send exactly the metadata Registrar sent (no secret in it for
    // client_secret_basic), so the hospital does the same work on both sides.
    const [sent] = await getDb().select({ metadata: registrationOperations.request }).from(registrationOperations).where(eq(registrationOperations.id, warm.operationId));
    const metadata = sent!.metadata as Partial<client.ClientMetadata>;
    const direct = () => client.dynamicClientRegistration(new URL(sandbox.general.issuer), metadata, undefined, { execute: [client.allowInsecureRequests] });
    await direct();

    const viaRegistrar = () => registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
    const [registrar, openid] = await alternate(viaRegistrar, direct);
    // Context, not part of the ratio: the RFC 7591 POST alone through the safe outbound fetch,
    // which the domain path cannot go below.
    const policy = await currentOutboundPolicy();
    const registrationEndpoint = issuer.discovery.endpoints.registration!.value;
    const postTimes: number[] = [];
    for (let i = 0; i < 200; i++) await time(() => registerClient({ registrationEndpoint, metadata, fetchInit: { policy } }), postTimes);
    const postOnly = median(postTimes);
    // The same POST after a pause as long as Registrar's database work: on this kind of machine a
    // process that waits (here the hospital, while Registrar commits) answers more slowly.
    const pausedTimes: number[] = [];
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 4));
      await time(() => registerClient({ registrationEndpoint, metadata, fetchInit: { policy } }), pausedTimes);
    }
    // Registrar's path commits twice, durably: the intent row before the POST and the answer after
    // it (issue #4). What one such commit costs here — a one-row insert into a table of the bench
    // database, flushed to disk before the answer — against a round trip alone.
    await getDb().execute(sql`create table if not exists bench_commit_probe (at timestamptz not null default now())`);
    const roundTrips: number[] = [];
    const commits: number[] = [];
    for (let i = 0; i < 200; i++) {
      await time(() => getDb().execute(sql`select 1`), roundTrips);
      await time(() => getDb().execute(sql`insert into bench_commit_probe default values`), commits);
    }
    return [
      { label: 'registration through Registrar (domain path), median of 200', value: `${registrar.toFixed(1)} ms` },
      { label: 'direct openid-client dynamicClientRegistration, median of 200', value: `${openid.toFixed(1)} ms` },
      { label: 'Registrar / openid-client (goal ≤ 1.3)', value: `${(registrar / openid).toFixed(2)}×` },
      { label: 'for context: RFC 7591 POST alone through the safe fetch (no database), median of 200', value: `${postOnly.toFixed(1)} ms` },
      { label: 'for context: the same POST, each after a 4 ms pause, median of 200', value: `${median(pausedTimes).toFixed(1)} ms` },
      { label: 'for context: a database round trip / one durable commit (Registrar makes two), median of 200', value: `${median(roundTrips).toFixed(2)} / ${median(commits).toFixed(2)} ms` },
    ];
  } finally {
    await sandbox.stop();
  }
}
