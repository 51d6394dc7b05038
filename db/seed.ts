import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb } from './client';

/**
 * Synthetic scale data: `scale` registrations over scale/10 issuers (in scale/100 health systems)
 * with realistic spreads of expiry (past, soon, later, never, unknown, none), status and findings.
 * Generated in SQL (generate_series) so 100,000 rows take seconds. Rows are tagged `seed-` so a
 * later run adds more rather than colliding.
 */
export async function seedScale(scale: number): Promise<{ registrations: number; issuers: number; healthSystems: number }> {
  const issuersCount = Math.max(1, Math.floor(scale / 10));
  const systemsCount = Math.max(1, Math.floor(scale / 100));
  const run = Date.now().toString(36);
  const db = getDb();
  await db.transaction(async (tx) => {
    await tx.execute(sql`
      insert into health_systems (name, tags)
      select 'Seed Health ' || ${run} || '-' || g, array['seed'] from generate_series(1, ${systemsCount}) g`);
    await tx.execute(sql`
      insert into issuers (health_system_id, environment, input_url, issuer_url, endpoints, token_endpoint_auth_methods_supported)
      select hs.id, (array['production','non-production','sandbox'])[1 + g % 3],
             'https://seed-' || ${run} || '-' || g || '.example.test/oauth2',
             'https://seed-' || ${run} || '-' || g || '.example.test/oauth2',
             jsonb_build_object('registration', jsonb_build_object('value', 'https://seed-' || ${run} || '-' || g || '.example.test/oauth2/register', 'source', 'openid-configuration', 'conflicts', '[]'::jsonb)),
             array['client_secret_basic','private_key_jwt']
      from generate_series(1, ${issuersCount}) g
      join lateral (select id from health_systems where name = 'Seed Health ' || ${run} || '-' || (1 + (g - 1) % ${systemsCount})) hs on true`);
    await tx.execute(sql`
      insert into apps (name, software_id, current_version)
      select 'Seed App ' || ${run} || '-' || g, 'com.example.seed.' || ${run} || '.' || g, 1 from generate_series(1, 5) g`);
    await tx.execute(sql`
      insert into app_versions (app_id, version, profile, created_by)
      select id, 1, jsonb_build_object('name', name, 'softwareId', software_id, 'environments', '{}'::jsonb, 'contacts', '[]'::jsonb, 'softwareStatement', jsonb_build_object('enabled', false)), 'seed'
      from apps where software_id like ${`com.example.seed.${run}.%`}`);
    await tx.execute(sql`
      with i as (select id, row_number() over (order by input_url) as n from issuers where input_url like ${`https://seed-${run}-%`}),
           a as (select id, row_number() over (order by software_id) as n from apps where software_id like ${`com.example.seed.${run}.%`}),
           g as (select g, random() as r, random() as s from generate_series(1, ${scale}) g)
      insert into registrations (issuer_id, app_id, app_version, environment, status, client_id, auth_method, managed,
                                 requested_metadata, registered_metadata, secret_expiry_kind, secret_expires_at,
                                 redirect_finding_count, scope_lost_count, last_rotated_at, last_checked_at, created_at)
      select i.id, a.id, 1, (array['production','staging','development'])[1 + g.g % 3],
             case when g.s < 0.90 then 'active' when g.s < 0.95 then 'needs_attention' when g.s < 0.98 then 'management_lost' else 'deleted' end,
             'seed-' || ${run} || '-' || g.g,
             (array['client_secret_basic','private_key_jwt','client_secret_post','none'])[1 + g.g % 4],
             g.g % 4 <> 3,
             '{}'::jsonb, '{}'::jsonb,
             case when g.r < 0.10 then 'never' when g.r < 0.15 then 'unknown' when g.r < 0.25 then 'none' else 'at' end,
             case when g.r >= 0.25 then now() + ((g.r - 0.35) * 600 || ' days')::interval end,
             case when g.g % 17 = 0 then 1 else 0 end,
             case when g.g % 23 = 0 then 2 else 0 end,
             case when g.g % 5 = 0 then now() - (g.g % 200 || ' days')::interval end,
             now() - (g.g % 30 || ' hours')::interval,
             now() - (g.g % 700 || ' days')::interval
      from g
      join i on i.n = 1 + (g.g - 1) % ${issuersCount}
      join a on a.n = 1 + (g.g - 1) % 5`);
  });
  // What autovacuum would do soon after a bulk load: statistics and the visibility map.
  await db.execute(sql`vacuum analyze registrations`);
  await db.execute(sql`vacuum analyze issuers`);
  return { registrations: scale, issuers: issuersCount, healthSystems: systemsCount };
}
