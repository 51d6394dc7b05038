import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { closeDb, getGenericPlanPool } from './client';
import { namedStatement, resetGenericPlanRefusal, runNamed } from './named-statement';

const SHOW = 'select current_setting($1::text) as value';
const generic = namedStatement(`${SHOW} -- generic`, { genericPlan: true });
const ordinary = namedStatement(`${SHOW} -- ordinary`);

afterEach(() => {
  vi.restoreAllMocks();
  resetGenericPlanRefusal();
});
afterAll(closeDb);

async function planCacheMode(statement: typeof generic): Promise<string> {
  const { rows } = await runNamed<{ value: string }>(statement, ['plan_cache_mode']);
  return rows[0]!.value;
}

describe('runNamed', () => {
  it('runs a generic-plan statement on connections that force generic plans, and the others on the main pool', async () => {
    expect(await planCacheMode(generic)).toBe('force_generic_plan');
    expect(await planCacheMode(ordinary)).toBe('auto');
  });

  it('falls back to the main pool, and stays there, when those connections are refused (a pooler that refuses startup options)', async () => {
    // The local PostgreSQL accepts the option; PgBouncer answers the login like this.
    const connect = vi.spyOn(getGenericPlanPool(), 'connect').mockRejectedValue(new Error('unsupported startup parameter in options: plan_cache_mode') as never);
    expect(await planCacheMode(generic)).toBe('auto');
    expect(await planCacheMode(generic)).toBe('auto');
    expect(connect).toHaveBeenCalledTimes(1);
  });
});
