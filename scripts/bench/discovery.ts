import { getDb } from '@/db/client';
import { healthSystems, issuers } from '@/db/schema';
import { systemActor } from '@/lib/auth/actor';
import { mapWithConcurrency } from '@/lib/concurrency';
import { createRefreshAllOperation, runRefreshAll } from '@/lib/issuers/refresh-all';
import { parseAllowlist } from '@/lib/oauth/allowlist';
import { discover } from '@/lib/oauth/discovery';
import { startSandbox } from '@/sandbox/index';
import { median } from './db';

/** Discovery of one issuer (median of 50) and "refresh all" over 500 issuers vs the same fetches made directly. */
export async function benchDiscovery(): Promise<Array<{ label: string; value: string }>> {
  const sandbox = await startSandbox({ tenants: 500, log: () => {} });
  try {
    const hosts = [sandbox.general.origin, sandbox.tenantsBase!].map((o) => `http://${new URL(o).host}`).join(',');
    const policy = { allowlist: parseAllowlist(hosts) };

    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const result = await discover(sandbox.general.fhirBase, { fetchInit: { policy } });
      times.push(performance.now() - t);
      if (result.failure) throw new Error(`discovery failed: ${result.failure.message}`);
    }

    const [system] = await getDb().insert(healthSystems).values({ name: 'Bench tenants' }).returning({ id: healthSystems.id });
    const tenantUrls = Array.from({ length: 500 }, (_, i) => `${sandbox.tenantsBase}/t/${i}/fhir`);
    await getDb().insert(issuers).values(tenantUrls.map((url) => ({ healthSystemId: system!.id, environment: 'production', inputUrl: url })));

    const actor = systemActor('bench');
    const op = await createRefreshAllOperation(actor);
    const t0 = performance.now();
    await runRefreshAll(op.id, { concurrency: 8, policy });
    const refreshMs = performance.now() - t0;

    // The same documents fetched directly (plain fetch, no checks, no database), at the same concurrency.
    const sample = await discover(tenantUrls[0]!, { fetchInit: { policy } });
    const paths = sample.attempts.map((a) => a.url.replace(`${sandbox.tenantsBase}/t/0`, ''));
    const t1 = performance.now();
    await mapWithConcurrency(tenantUrls, 8, async (_url, i) => {
      await Promise.all(paths.map(async (p) => (await fetch(`${sandbox.tenantsBase}/t/${i}${p}`, { headers: { accept: 'application/json' } })).arrayBuffer()));
    });
    const directMs = performance.now() - t1;

    return [
      { label: 'discovery of one sandbox issuer (General Hospital, FHIR base), median of 50', value: `${median(times).toFixed(1)} ms` },
      { label: `refresh all: 500 issuers, concurrency 8 (${paths.length} documents each)`, value: `${(refreshMs / 1000).toFixed(2)} s` },
      { label: 'the same 500 × documents fetched directly, concurrency 8', value: `${(directMs / 1000).toFixed(2)} s` },
      { label: 'refresh all / direct', value: `${(refreshMs / directMs).toFixed(2)}×` },
    ];
  } finally {
    await sandbox.stop();
  }
}
