import 'server-only';
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { getDb, type Tx } from '@/db/client';
import { apiTokens, auditLog, users, type ApiToken, type Role } from '@/db/schema';
import { actorLabel, assertCan, systemActor, type Actor } from '@/lib/auth/actor';
import { can, permissionsOf, type Permission } from '@/lib/auth/permissions';
import { auditedMutation, recordAudit } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { API_TOKEN_PATTERN, createApiTokenSchema, revokeApiTokenSchema, type CreateApiTokenInput } from './token-schemas';

const TOKEN_PREFIX = 'rgt_';
/** Characters kept to recognise a token in lists and logs: the prefix and 8 random characters. */
const DISPLAY_PREFIX_LENGTH = TOKEN_PREFIX.length + 8;
const DAY_MS = 86_400_000;

/** SHA-256 is enough for 256-bit random tokens: they cannot be guessed, so no slow hash is needed. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export type ApiTokenSummary = Pick<ApiToken, 'id' | 'name' | 'role' | 'permissions' | 'prefix' | 'expiresAt' | 'lastUsedAt' | 'revokedAt' | 'createdBy' | 'createdAt'> & { expired: boolean };

const summaryColumns = {
  id: apiTokens.id,
  name: apiTokens.name,
  role: apiTokens.role,
  permissions: apiTokens.permissions,
  prefix: apiTokens.prefix,
  expiresAt: apiTokens.expiresAt,
  lastUsedAt: apiTokens.lastUsedAt,
  revokedAt: apiTokens.revokedAt,
  createdBy: apiTokens.createdBy,
  createdAt: apiTokens.createdAt,
  expired: sql<boolean>`(${apiTokens.expiresAt} is not null and ${apiTokens.expiresAt} <= now())`,
};

/**
 * Refuses a permission subset that the role does not grant, and a write permission without the
 * matching read: the API answers a write with the resource it wrote, which the token must be able to read.
 */
function checkSubset(role: ApiToken['role'], permissions: readonly Permission[]): void {
  const granted = permissionsOf(role);
  const outside = permissions.filter((p) => !granted.includes(p));
  if (outside.length > 0) {
    throw new AppError('INVALID', `The ${role} role does not grant ${outside.join(', ')}; a token can only narrow its role.`, { field: 'permissions' });
  }
  for (const p of permissions) {
    if (!p.endsWith(':write')) continue;
    const read = p.replace(/:write$/, ':read') as Permission;
    if (!permissions.includes(read)) throw new AppError('INVALID', `${p} needs ${read} as well: the API answers a write with the resource it wrote.`, { field: 'permissions' });
  }
}

/**
 * Creates an API token. The token is returned once, here, and only its SHA-256 is stored.
 * `permissions` (optional) narrows the role; it must be a subset of the role's permissions.
 */
export async function createApiToken(actor: Actor, input: CreateApiTokenInput): Promise<{ id: string; token: string; prefix: string; name: string; role: ApiToken['role']; permissions: Permission[] | null; expiresAt: Date | null }> {
  assertCan(actor, 'users:manage');
  const data = createApiTokenSchema.parse(input);
  checkSubset(data.role, data.permissions);
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const prefix = token.slice(0, DISPLAY_PREFIX_LENGTH);
  const expiresAt = data.expiresInDays ? new Date(Date.now() + data.expiresInDays * DAY_MS) : null;
  const permissions = data.permissions.length > 0 ? data.permissions : null;
  return auditedMutation(
    actor,
    { action: 'api_token.create', targetType: 'api_token', details: { name: data.name, role: data.role, permissions, expiresAt: expiresAt?.toISOString() ?? null, prefix } },
    async (tx) => {
      if (actor.type === 'user') await lockCreatorStillEntitled(tx, actor.id);
      const [row] = await tx
        .insert(apiTokens)
        .values({ name: data.name, role: data.role, permissions, tokenHash: hashApiToken(token), prefix, expiresAt, createdBy: actorLabel(actor), createdByUserId: actor.type === 'user' ? actor.id : null })
        .returning({ id: apiTokens.id });
      if (!row) throw new AppError('CONFLICT', 'The token could not be created.');
      return { result: { id: row.id, token, prefix, name: data.name, role: data.role, permissions, expiresAt }, targetId: row.id };
    },
  );
}

/**
 * The creator, as the database has them now, not as their session said when the request began: a
 * deactivation or demotion that commits while the token is being created would otherwise miss it
 * (revokeTokensBeyondCreator cannot see a row inserted after its select). Locked FOR SHARE, so one
 * of the two waits for the other: the deactivation then revokes the new token, or the creation
 * finds the account inactive.
 */
async function lockCreatorStillEntitled(tx: Tx, userId: string): Promise<void> {
  const [creator] = await tx.select({ role: users.role, isActive: users.isActive }).from(users).where(eq(users.id, userId)).for('share');
  if (!creator?.isActive) throw new AppError('FORBIDDEN', 'Your account is no longer active, so it cannot create API tokens.');
  if (!can(creator.role, 'users:manage')) throw new AppError('FORBIDDEN', `Your role is now ${creator.role}, which cannot create API tokens.`);
}

/** Every token, newest first (never a hash, never a token). */
export async function listApiTokens(actor: Actor): Promise<ApiTokenSummary[]> {
  assertCan(actor, 'users:manage');
  return getDb().select(summaryColumns).from(apiTokens).orderBy(desc(apiTokens.createdAt));
}

/** Revokes a token at once: its next request is refused. Revoking twice is a no-op that says so. */
export async function revokeApiToken(actor: Actor, input: { id: string }): Promise<{ id: string; revokedAt: Date }> {
  assertCan(actor, 'users:manage');
  const { id } = revokeApiTokenSchema.parse(input);
  return auditedMutation(actor, { action: 'api_token.revoke', targetType: 'api_token', targetId: id }, async (tx) => {
    const [row] = await tx.select({ revokedAt: apiTokens.revokedAt, name: apiTokens.name }).from(apiTokens).where(eq(apiTokens.id, id)).for('update');
    if (!row) throw new AppError('NOT_FOUND', 'That API token does not exist.');
    if (row.revokedAt) throw new AppError('CONFLICT', `The token “${row.name}” was already revoked.`);
    const [updated] = await tx.update(apiTokens).set({ revokedAt: sql`now()` }).where(eq(apiTokens.id, id)).returning({ revokedAt: apiTokens.revokedAt });
    return { result: { id, revokedAt: updated!.revokedAt! }, details: { name: row.name } };
  });
}

/**
 * A person's API tokens must not outlive their access: when they are deactivated (`role` null) every
 * live token they created is revoked, and when their role is lowered, each one that can do more
 * than the new role allows. Runs in the caller's transaction (the user change and the revocations
 * commit together), audited per token. Returns the revoked tokens' names.
 */
export async function revokeTokensBeyondCreator(tx: Tx, actor: Actor, userId: string, role: Role | null): Promise<string[]> {
  const live = await tx
    .select({ id: apiTokens.id, name: apiTokens.name, role: apiTokens.role, permissions: apiTokens.permissions })
    .from(apiTokens)
    .where(and(eq(apiTokens.createdByUserId, userId), isNull(apiTokens.revokedAt), sql`(${apiTokens.expiresAt} is null or ${apiTokens.expiresAt} > now())`))
    .for('update');
  const allowed = role ? permissionsOf(role) : [];
  const beyond = live.filter((t) => ((t.permissions as Permission[] | null) ?? permissionsOf(t.role)).some((p) => !allowed.includes(p)));
  for (const token of beyond) {
    await tx.update(apiTokens).set({ revokedAt: sql`now()` }).where(eq(apiTokens.id, token.id));
    await recordAudit(tx, actor, {
      action: 'api_token.revoke',
      targetType: 'api_token',
      targetId: token.id,
      details: { name: token.name, reason: role ? `its creator's role is now ${role}` : 'its creator was deactivated', creatorId: userId },
    });
  }
  return beyond.map((t) => t.name);
}

/** Why a token's creator no longer covers it (deactivated, deleted, or a role that grants less), or null. */
function creatorNoLongerCovers(row: { role: ApiToken['role']; permissions: unknown; creatorActive: boolean | null; creatorRole: Role | null }): string | null {
  if (row.creatorActive === null || row.creatorRole === null) return 'its creator no longer exists';
  if (!row.creatorActive) return 'its creator was deactivated';
  const allowed = permissionsOf(row.creatorRole);
  const needs = (row.permissions as Permission[] | null) ?? permissionsOf(row.role);
  return needs.some((p) => !allowed.includes(p)) ? `its creator's role is now ${row.creatorRole}` : null;
}

export type TokenActor = Extract<Actor, { type: 'api_token' }>;

/** The label an API token acts under in the audit log. */
export function tokenActorLabel(token: Pick<ApiToken, 'name' | 'prefix'>): string {
  return `api-token:${token.name} (${token.prefix}…)`;
}

/**
 * RFC 6750 bearer authentication of an API request. Unknown tokens are refused without a trace
 * in the audit log (anyone can send one); a revoked or expired token is refused and audited.
 */
export async function authenticateApiToken(authorization: string | null, requestId: string): Promise<TokenActor> {
  const match = authorization ? /^Bearer[ ]+(\S+)\s*$/i.exec(authorization) : null;
  if (!match) throw new AppError('UNAUTHENTICATED', 'Send an API token as `Authorization: Bearer <token>`. Admins create tokens in Settings → API tokens or with `npm run token:create`.', { reason: 'missing_token' });
  const token = match[1]!;
  if (!API_TOKEN_PATTERN.test(token)) throw new AppError('UNAUTHENTICATED', 'That is not a Registrar API token.', { reason: 'invalid_token' });
  const [row] = await getDb()
    .select({ ...summaryColumns, creatorId: apiTokens.createdByUserId, creatorActive: users.isActive, creatorRole: users.role })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.createdByUserId))
    .where(eq(apiTokens.tokenHash, hashApiToken(token)))
    .limit(1);
  if (!row) throw new AppError('UNAUTHENTICATED', 'This API token is not known.', { reason: 'invalid_token' });
  // A token ends with its creator's access. The user changes revoke at once; this catches what they
  // could not see: tokens made before creators were recorded, or one committed beside the change.
  const creatorLost = row.creatorId !== null && !row.revokedAt ? creatorNoLongerCovers(row) : null;
  if (creatorLost) {
    const [revoked] = await getDb().update(apiTokens).set({ revokedAt: sql`now()` }).where(and(eq(apiTokens.id, row.id), isNull(apiTokens.revokedAt))).returning({ revokedAt: apiTokens.revokedAt });
    if (revoked) {
      await recordAudit(getDb(), systemActor('api-token-check'), { action: 'api_token.revoke', targetType: 'api_token', targetId: row.id, details: { name: row.name, reason: creatorLost, creatorId: row.creatorId } }).catch(() => {});
    }
    row.revokedAt = revoked?.revokedAt ?? new Date();
  }
  const actor: TokenActor = {
    type: 'api_token',
    id: row.id,
    label: tokenActorLabel(row),
    role: row.role,
    permissions: (row.permissions as Permission[] | null) ?? null,
    requestId,
  };
  if (row.revokedAt || row.expired) {
    const reason = row.revokedAt ? 'revoked' : 'expired';
    // Audited at most once a minute per token: whoever holds a leaked, revoked token must not be able to flood the audit log.
    const [recent] = await getDb()
      .select({ at: auditLog.at })
      .from(auditLog)
      .where(and(eq(auditLog.targetType, 'api_token'), eq(auditLog.targetId, row.id), eq(auditLog.action, 'api.authenticate'), sql`${auditLog.at} > now() - interval '1 minute'`))
      .limit(1);
    if (!recent) await recordAudit(getDb(), actor, { action: 'api.authenticate', targetType: 'api_token', targetId: row.id, outcome: 'denied', details: { reason } }).catch(() => {});
    throw new AppError('UNAUTHENTICATED', row.revokedAt ? 'This API token was revoked.' : 'This API token has expired.', { reason: 'invalid_token' });
  }
  // Throttled: at most one write a minute per token.
  await getDb()
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(sql`${apiTokens.id} = ${row.id} and (${apiTokens.lastUsedAt} is null or ${apiTokens.lastUsedAt} < now() - interval '1 minute')`);
  return actor;
}
