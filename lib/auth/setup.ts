import 'server-only';
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { setupTokens, users } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { createUserSchema } from '@/lib/users/schemas';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password';

const SETUP_LINK_TTL_MS = 24 * 60 * 60 * 1000;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * When nobody can sign in yet, mint a one-time link for creating the first admin.
 * Returns null when users exist. Only the hash is stored.
 */
export async function issueSetupTokenIfNoUsers(): Promise<string | null> {
  const [{ n } = { n: 0 }] = await getDb().select({ n: sql<number>`count(*)::int` }).from(users);
  if (n > 0) return null;
  const token = randomBytes(24).toString('base64url');
  await getDb().insert(setupTokens).values({ tokenHash: hash(token), expiresAt: new Date(Date.now() + SETUP_LINK_TTL_MS) });
  return token;
}

export async function isSetupTokenUsable(token: string): Promise<boolean> {
  const [row] = await getDb()
    .select({ id: setupTokens.id })
    .from(setupTokens)
    .where(and(eq(setupTokens.tokenHash, hash(token)), isNull(setupTokens.usedAt), gt(setupTokens.expiresAt, new Date())))
    .limit(1);
  return Boolean(row);
}

/**
 * Creates the first admin. Refused once any user exists, so a leaked old link is worthless; the
 * token is spent in the same transaction as the user is created.
 */
export async function completeSetup(input: { token: string; email: string; password: string; name?: string }) {
  const { email, name } = createUserSchema.parse({ email: input.email, name: input.name, role: 'admin' });
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('INVALID', `Use a password of at least ${MIN_PASSWORD_LENGTH} characters.`, { field: 'password' });
  }
  if (input.password.length > MAX_PASSWORD_LENGTH) {
    throw new AppError('INVALID', `Use a password of at most ${MAX_PASSWORD_LENGTH} characters.`, { field: 'password' });
  }
  // Refused before the (deliberately slow) hash: this action runs without a session, so a request
  // with no usable link must cost no more than a query.
  const [{ n: existing } = { n: 0 }] = await getDb().select({ n: sql<number>`count(*)::int` }).from(users);
  if (existing > 0) throw new AppError('CONFLICT', 'Registrar is already set up. Sign in instead.');
  if (!(await isSetupTokenUsable(input.token))) throw new AppError('INVALID', 'This set-up link is invalid, used or expired. Restart Registrar for a new one.');
  const passwordHash = await hashPassword(input.password);
  return getDb().transaction(async (tx) => {
    // Serialise concurrent set-ups: only one first admin.
    await tx.execute(sql`select pg_advisory_xact_lock(7591001)`);
    const [{ n } = { n: 0 }] = await tx.select({ n: sql<number>`count(*)::int` }).from(users);
    if (n > 0) throw new AppError('CONFLICT', 'Registrar is already set up. Sign in instead.');
    const spent = await tx
      .update(setupTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(setupTokens.tokenHash, hash(input.token)), isNull(setupTokens.usedAt), gt(setupTokens.expiresAt, new Date())))
      .returning({ id: setupTokens.id });
    if (spent.length === 0) throw new AppError('INVALID', 'This set-up link is invalid, used or expired. Restart Registrar for a new one.');
    const [user] = await tx.insert(users).values({ email, name: name ?? null, role: 'admin', passwordHash }).returning({ id: users.id, email: users.email });
    if (!user) throw new AppError('CONFLICT', 'The admin could not be created.');
    await recordAudit(tx, { type: 'user', id: user.id, email: user.email, role: 'admin' }, { action: 'setup.first_admin', targetType: 'user', targetId: user.id });
    return user;
  });
}
