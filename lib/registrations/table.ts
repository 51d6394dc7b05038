import 'server-only';
import { and, asc, count, desc, eq, ilike, isNotNull, lte, or, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { apps, credentials, healthSystems, issuers, REGISTRATION_STATUSES, registrations } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { expiryOf } from './expiry';

/** Sortable columns: the whitelist that maps URL names to SQL. */
const SORTS = {
  healthSystem: sql`lower(${healthSystems.name})`,
  issuer: issuers.issuerUrl,
  environment: registrations.environment,
  app: sql`lower(${apps.name})`,
  clientId: registrations.clientId,
  authMethod: registrations.authMethod,
  status: registrations.status,
  secretExpiresAt: registrations.secretExpiresAt,
  lastRotatedAt: registrations.lastRotatedAt,
  lastCheckedAt: registrations.lastCheckedAt,
  createdAt: registrations.createdAt,
} as const;
export const SORT_KEYS = Object.keys(SORTS) as Array<keyof typeof SORTS>;

const optionalText = z.string().trim().max(200).optional().transform((v) => v || undefined);

/** The table's state, parsed from the URL by one schema (the page, the export and the API share it). */
export const registrationTableSchema = z.object({
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
  pageSize: z.coerce.number().int().refine((n) => [10, 25, 50, 100].includes(n)).catch(25).default(25),
  sort: z.enum(SORT_KEYS as [keyof typeof SORTS, ...Array<keyof typeof SORTS>]).catch('createdAt').default('createdAt'),
  dir: z.enum(['asc', 'desc']).catch('desc').default('desc'),
  q: optionalText,
  healthSystemId: z.uuid().optional().catch(undefined),
  issuerId: z.uuid().optional().catch(undefined),
  appId: z.uuid().optional().catch(undefined),
  environment: optionalText,
  status: z.enum(REGISTRATION_STATUSES).optional().catch(undefined),
  expiringWithinDays: z.coerce.number().int().min(0).max(3650).optional().catch(undefined),
  /** A window of expiry dates (the overview chart's click-through): [expiresFrom, expiresTo). */
  expiresFrom: z.iso.date().optional().catch(undefined),
  expiresTo: z.iso.date().optional().catch(undefined),
  hasFindings: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .catch(undefined)
    .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1')),
});
export type RegistrationTableParams = z.output<typeof registrationTableSchema>;

export function parseTableParams(searchParams: Record<string, string | string[] | undefined>): RegistrationTableParams {
  const flat = Object.fromEntries(Object.entries(searchParams).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  return registrationTableSchema.parse(flat);
}

/**
 * Registrations whose secret is the one in use: not deleted, and not replaced by a rotation's new
 * client (a replaced client keeps working through its grace period, but its expiry no longer
 * matters). The overview's expiry counts and forecast and the table's expiry filters count only these.
 */
export const secretInUse: SQL = sql`(${registrations.status} <> 'deleted' and ${registrations.replacedByRegistrationId} is null)`;

/**
 * The column contains the text as typed, case-insensitively: `%`, `_` and `\` match themselves
 * (escaped for LIKE, whose default escape character is the backslash), so "%" finds a literal
 * percent sign rather than every row, and "abc_1" does not find "abcX1".
 */
function containsText(column: AnyColumn, text: string): SQL {
  return ilike(column, `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
}

export function tableWhere(p: RegistrationTableParams): SQL | undefined {
  const conditions: Array<SQL | undefined> = [
    p.q ? or(...[registrations.clientId, healthSystems.name, apps.name, issuers.issuerUrl].map((column) => containsText(column, p.q!))) : undefined,
    p.healthSystemId ? eq(issuers.healthSystemId, p.healthSystemId) : undefined,
    p.issuerId ? eq(registrations.issuerId, p.issuerId) : undefined,
    p.appId ? eq(registrations.appId, p.appId) : undefined,
    p.environment ? eq(registrations.environment, p.environment) : undefined,
    p.status ? eq(registrations.status, p.status) : undefined,
    p.expiringWithinDays !== undefined
      ? and(secretInUse, isNotNull(registrations.secretExpiresAt), lte(registrations.secretExpiresAt, sql`now() + make_interval(days => ${p.expiringWithinDays})`))
      : undefined,
    p.expiresFrom || p.expiresTo ? secretInUse : undefined,
    p.expiresFrom ? sql`${registrations.secretExpiresAt} >= ${p.expiresFrom}::date` : undefined,
    p.expiresTo ? sql`${registrations.secretExpiresAt} < ${p.expiresTo}::date` : undefined,
    p.hasFindings === true ? sql`(${registrations.redirectFindingCount} > 0 or ${registrations.scopeLostCount} > 0)` : undefined,
    p.hasFindings === false ? sql`(${registrations.redirectFindingCount} = 0 and ${registrations.scopeLostCount} = 0)` : undefined,
  ];
  return and(...conditions.filter((c): c is SQL => c !== undefined));
}

export const tableColumns = {
  id: registrations.id,
  healthSystemId: healthSystems.id,
  healthSystemName: healthSystems.name,
  issuerId: issuers.id,
  issuerUrl: issuers.issuerUrl,
  environment: registrations.environment,
  appId: apps.id,
  appName: apps.name,
  clientId: registrations.clientId,
  authMethod: registrations.authMethod,
  status: registrations.status,
  managed: registrations.managed,
  secretExpiryKind: registrations.secretExpiryKind,
  secretExpiresAt: registrations.secretExpiresAt,
  redirectFindingCount: registrations.redirectFindingCount,
  scopeLostCount: registrations.scopeLostCount,
  lastRotatedAt: registrations.lastRotatedAt,
  lastCheckedAt: registrations.lastCheckedAt,
  createdAt: registrations.createdAt,
  hasRegistrationAccessToken: sql<boolean>`exists (select 1 from ${credentials} c where c.owner_type = 'registration' and c.owner_id = ${registrations.id} and c.kind = 'registration_access_token' and c.state = 'current')`,
};

export function tableFrom() {
  return getDb()
    .select(tableColumns)
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .innerJoin(apps, eq(apps.id, registrations.appId));
}

const NULLABLE_SORTS = new Set<keyof typeof SORTS>(['issuer', 'secretExpiresAt', 'lastRotatedAt', 'lastCheckedAt']);

export function tableOrder(p: RegistrationTableParams) {
  const column = SORTS[p.sort];
  // NULLs (never, unknown) sort last either way; on NOT NULL columns the plain order lets an index
  // serve the sort. The id breaks ties so pages are stable.
  const primary = NULLABLE_SORTS.has(p.sort)
    ? p.dir === 'asc' ? sql`${column} asc nulls last` : sql`${column} desc nulls last`
    : p.dir === 'asc' ? sql`${column} asc` : sql`${column} desc`;
  return [primary, p.dir === 'asc' ? asc(registrations.id) : desc(registrations.id)];
}

/** One page of the registrations table: filtering, sorting and paging all happen in SQL. */
export async function queryRegistrationsTable(actor: Actor, p: RegistrationTableParams) {
  assertCan(actor, 'registrations:read');
  const where = tableWhere(p);
  const [rows, [{ total } = { total: 0 }]] = await Promise.all([
    tableFrom()
      .where(where)
      .orderBy(...tableOrder(p))
      .limit(p.pageSize)
      .offset((p.page - 1) * p.pageSize),
    countRows(p, where),
  ]);
  const now = new Date();
  return {
    total,
    rows: rows.map((r) => ({
      ...r,
      secretExpiresAt: r.secretExpiresAt?.toISOString() ?? null,
      lastRotatedAt: r.lastRotatedAt?.toISOString() ?? null,
      lastCheckedAt: r.lastCheckedAt?.toISOString() ?? null,
      createdAt: r.createdAt.toISOString(),
      expiry: expiryOf(r.secretExpiryKind, r.secretExpiresAt, now),
    })),
  };
}
export type RegistrationTableRow = Awaited<ReturnType<typeof queryRegistrationsTable>>['rows'][number];

/** Counting needs the joined tables only when a filter looks at them (search text, health system). */
function countRows(p: RegistrationTableParams, where: SQL | undefined) {
  if (!p.q && !p.healthSystemId) return getDb().select({ total: count() }).from(registrations).where(where);
  return getDb()
    .select({ total: count() })
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .innerJoin(apps, eq(apps.id, registrations.appId))
    .where(where);
}

/** Choices for the filter bar. */
export async function tableFilterOptions(actor: Actor) {
  assertCan(actor, 'registrations:read');
  const [systems, appRows, envs] = await Promise.all([
    getDb().select({ id: healthSystems.id, name: healthSystems.name }).from(healthSystems).orderBy(asc(healthSystems.name)),
    getDb().select({ id: apps.id, name: apps.name }).from(apps).orderBy(asc(apps.name)),
    // Distinct environments by a loose index scan: one index probe per value, not a scan of every row.
    getDb().execute<{ v: string }>(sql`
      with recursive e as (
        select min(environment) as v from registrations
        union all
        select (select min(environment) from registrations where environment > e.v) from e where e.v is not null
      ) select v from e where v is not null`),
  ]);
  return { healthSystems: systems, apps: appRows, environments: envs.rows.map((e) => e.v) };
}
