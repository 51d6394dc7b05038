import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import { rotations } from '@/db/schema';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { setRotationPolicy } from './policy';
import { resolveActiveRegistration } from './queries';
import { runRotationScan } from './scan';
import { allowlist, clientCredentialsApp, currentSecretsInChain, register, registrationRow, sandboxIssuer, tokenWithCurrentCredential } from './test-support';

/** General Hospital issues secrets that live this long here (the real default is 30 days). */
const TTL_SECONDS = 20;
const RUN_SECONDS = 36;

let sandbox: Sandbox;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;
let tokenEndpoint: string;

beforeAll(async () => {
  sandbox = await startSandbox({ generalSecretTtlSeconds: TTL_SECONDS, log: () => {} });
  const admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, sandbox.general.origin);
  const issuer = await sandboxIssuer(ops.actor, sandbox.general.fhirBase);
  issuerId = issuer.id;
  tokenEndpoint = issuer.discovery.endpoints.token!.value;
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

describe(`secrets that live ${TTL_SECONDS} seconds, automatic policy, the scan every second`, () => {
  it(
    'rotates before expiry, and a token probe every second using whatever Registrar calls current sees zero failures across the switches',
    async () => {
      const { appId } = await clientCredentialsApp();
      const reg = await register(ops.actor, issuerId, appId);
      await setRotationPolicy(ops.actor, { registrationId: reg.registrationId, policy: 'automatic' });
      const first = await registrationRow(reg.registrationId);
      expect(first.secretExpiresAt!.getTime() - Date.now()).toBeLessThanOrEqual(TTL_SECONDS * 1000);

      const started = Date.now();
      const probe = { ok: 0, failures: [] as string[], clients: new Set<string>() };
      const scans: Array<{ started: string[]; errors: number }> = [];
      let stop = false;
      const probing = (async () => {
        while (!stop) {
          const tick = Date.now();
          try {
            probe.clients.add((await tokenWithCurrentCredential(reg.registrationId, tokenEndpoint)).clientId);
            probe.ok++;
          } catch (error) {
            probe.failures.push(`${((Date.now() - started) / 1000).toFixed(1)} s: ${error instanceof Error ? error.message : String(error)}`);
          }
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
        }
      })();
      const scanning = (async () => {
        while (!stop) {
          const tick = Date.now();
          const result = await runRotationScan({ issuerId, deps: { timings: { graceSeconds: 4 } } });
          scans.push({ started: result.started, errors: result.errors });
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
        }
      })();
      await new Promise((r) => setTimeout(r, RUN_SECONDS * 1000));
      stop = true;
      await Promise.all([probing, scanning]);

      expect(probe.failures).toEqual([]);
      // About one probe a second (fewer when the machine is busy: each waits for the previous one).
      expect(probe.ok).toBeGreaterThanOrEqual(RUN_SECONDS / 2);
      // The first secret expired during the run, and the probe went on working with its replacements.
      expect(Date.now()).toBeGreaterThan(first.secretExpiresAt!.getTime() + 5000);
      const done = await getDb().select().from(rotations).where(eq(rotations.registrationId, reg.registrationId));
      expect(done).toHaveLength(1);
      expect(done[0]!.state).toBe('current');
      expect(done[0]!.trigger).toBe('schedule');
      expect(done[0]!.finishedAt!.getTime()).toBeLessThan(first.secretExpiresAt!.getTime());
      // Its replacement was itself renewed before expiring: a chain of at least three clients, all seen by the probe.
      expect(probe.clients.size).toBeGreaterThanOrEqual(3);
      expect(scans.flatMap((s) => s.started).length).toBeGreaterThanOrEqual(2);
      expect(scans.reduce((n, s) => n + s.errors, 0)).toBe(0);
      expect(await currentSecretsInChain(reg.registrationId)).toBe(1);
      // The first client was deleted at General after the grace period.
      expect((await registrationRow(reg.registrationId)).status).toBe('deleted');
      const active = await resolveActiveRegistration(reg.registrationId);
      expect((await registrationRow(active.registrationId)).status).toBe('active');
    },
    90_000,
  );
});
