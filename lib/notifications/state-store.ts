import 'server-only';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '@/db/client';

/**
 * Where a monitor keeps the last state it reported, per subject: the table and its two key
 * columns with their SQL types. Constants of this module's callers, never input.
 */
type StateTable = {
  table: 'expiry_states' | 'app_credential_states';
  keys: readonly [{ name: string; type: 'uuid' | 'text' }, { name: string; type: 'uuid' | 'text' }];
};

export const EXPIRY_STATE_TABLE: StateTable = { table: 'expiry_states', keys: [{ name: 'registration_id', type: 'uuid' }, { name: 'credential_kind', type: 'text' }] };
export const APP_CREDENTIAL_STATE_TABLE: StateTable = { table: 'app_credential_states', keys: [{ name: 'subject_type', type: 'text' }, { name: 'subject_id', type: 'uuid' }] };

/** A state to store, with the stored one it replaces (previous_state null: none yet), keyed by the table's two key columns. */
export type StateWrite = Record<string, unknown> & {
  previous_state: string | null;
  previous_threshold: number | null;
  state: string;
  threshold_days: number | null;
  expires_at: string | null;
};

/**
 * Stores the states whose stored one is still the one they were computed from (compare and set: a
 * run at the same time that stored and notified a change first keeps the second from notifying it
 * again), `chunkSize` rows a statement. Returns the keys stored, as `key1:key2`.
 */
export async function storeMonitoredStates(db: DbOrTx, target: StateTable, writes: readonly StateWrite[], now: Date, chunkSize = 2000): Promise<Set<string>> {
  const [k1, k2] = target.keys;
  const table = sql.raw(target.table);
  const key1 = sql.raw(k1.name);
  const key2 = sql.raw(k2.name);
  const columns = sql.raw(`${k1.name} ${k1.type}, ${k2.name} ${k2.type}, previous_state text, previous_threshold int, state text, threshold_days int, expires_at timestamptz`);
  const at = now.toISOString();
  const stored = new Set<string>();
  for (let i = 0; i < writes.length; i += chunkSize) {
    const { rows } = await db.execute<Record<string, string>>(sql`
      with v as (
        select * from jsonb_to_recordset(${JSON.stringify(writes.slice(i, i + chunkSize))}::jsonb) as v(${columns})
      ), inserted as (
        insert into ${table} (${key1}, ${key2}, state, threshold_days, expires_at, changed_at)
        select v.${key1}, v.${key2}, v.state, v.threshold_days, v.expires_at, ${at}::timestamptz from v where v.previous_state is null
        on conflict (${key1}, ${key2}) do nothing
        returning ${key1}, ${key2}
      ), updated as (
        update ${table} s
           set state = v.state, threshold_days = v.threshold_days, expires_at = v.expires_at, changed_at = ${at}::timestamptz
          from v
         where v.previous_state is not null and s.${key1} = v.${key1} and s.${key2} = v.${key2}
           and s.state = v.previous_state and s.threshold_days is not distinct from v.previous_threshold
        returning s.${key1}, s.${key2}
      )
      select ${key1}, ${key2} from inserted union all select ${key1}, ${key2} from updated`);
    for (const row of rows) stored.add(`${row[k1.name]}:${row[k2.name]}`);
  }
  return stored;
}
