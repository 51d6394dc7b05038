import 'server-only';
import { and, eq, ne, sql } from 'drizzle-orm';
import { users } from '@/db/schema';
import type { Tx } from '@/db/client';
import { isUniqueViolation } from '@/db/errors';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { generatePassword, hashPassword } from '@/lib/auth/password';
import { auditedMutation } from '@/lib/audit/record';
import { revokeTokensBeyondCreator } from '@/lib/api/tokens';
import { AppError } from '@/lib/errors';
import { changeRoleSchema, createUserSchema, setUserActiveSchema, userIdSchema, type CreateUserInput } from './schemas';

/** Creates a local account with a generated password, returned once to the caller. */
export async function createUser(actor: Actor, input: CreateUserInput): Promise<{ id: string; email: string; password: string }> {
  assertCan(actor, 'users:manage');
  const data = createUserSchema.parse(input);
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  return auditedMutation(actor, { action: 'user.create', targetType: 'user', details: { email: data.email, role: data.role } }, async (tx) => {
    await assertEmailFree(tx, data.email);
    const [row] = await tx
      .insert(users)
      .values({ email: data.email, name: data.name ?? null, role: data.role, passwordHash })
      .returning({ id: users.id, email: users.email })
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw new AppError('CONFLICT', `A user with the email ${data.email} already exists.`, { field: 'email' });
        throw error;
      });
    if (!row) throw new AppError('CONFLICT', 'The user could not be created.');
    return { result: { ...row, password }, targetId: row.id };
  });
}

export async function changeUserRole(actor: Actor, input: { userId: string; role: string }) {
  assertCan(actor, 'users:manage');
  const data = changeRoleSchema.parse(input);
  return auditedMutation(actor, { action: 'user.change_role', targetType: 'user', targetId: data.userId, details: { role: data.role } }, async (tx) => {
    const target = await lockUserOrThrow(tx, data.userId);
    if (target.role === 'admin' && data.role !== 'admin') await assertAnotherActiveAdmin(tx, data.userId);
    await tx.update(users).set({ role: data.role, updatedAt: new Date() }).where(eq(users.id, data.userId));
    const revokedApiTokens = await revokeTokensBeyondCreator(tx, actor, data.userId, data.role);
    return { result: { id: data.userId, role: data.role, revokedApiTokens }, details: { previousRole: target.role, ...(revokedApiTokens.length ? { revokedApiTokenNames: revokedApiTokens } : {}) } };
  });
}

export async function setUserActive(actor: Actor, input: { userId: string; active: boolean }) {
  assertCan(actor, 'users:manage');
  // Parsed here too: a caller passing "false" (a string) must not reactivate the account.
  const { userId, active } = setUserActiveSchema.parse(input);
  if (!active && actor.type === 'user' && actor.id === userId) {
    throw new AppError('INVALID', 'You cannot deactivate your own account.');
  }
  return auditedMutation(actor, { action: active ? 'user.reactivate' : 'user.deactivate', targetType: 'user', targetId: userId }, async (tx) => {
    const target = await lockUserOrThrow(tx, userId);
    if (!active && target.role === 'admin') await assertAnotherActiveAdmin(tx, userId);
    await tx
      .update(users)
      // Either way the user's existing sessions end: a reactivation must not revive cookies from before.
      .set({ isActive: active, deactivatedAt: active ? null : new Date(), sessionsValidAfter: new Date(), sessionEpoch: sql`${users.sessionEpoch} + 1`, updatedAt: new Date() })
      .where(eq(users.id, userId));
    // Their API tokens end with their access (a reactivation does not bring them back).
    const revokedApiTokens = active ? [] : await revokeTokensBeyondCreator(tx, actor, userId, null);
    return { result: { id: userId, isActive: active, revokedApiTokens }, ...(revokedApiTokens.length ? { details: { revokedApiTokenNames: revokedApiTokens } } : {}) };
  });
}

/** Sets a new generated password (admin reset, demo set-up). */
export async function resetUserPassword(actor: Actor, input: { userId: string }): Promise<{ password: string }> {
  assertCan(actor, 'users:manage');
  const { userId } = userIdSchema.parse(input);
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  return auditedMutation(actor, { action: 'user.reset_password', targetType: 'user', targetId: userId }, async (tx) => {
    await lockUserOrThrow(tx, userId);
    // Whoever holds a session of this user (the reason for a reset may be a stolen one) is signed out.
    await tx.update(users).set({ passwordHash, sessionsValidAfter: new Date(), sessionEpoch: sql`${users.sessionEpoch} + 1`, updatedAt: new Date() }).where(eq(users.id, userId));
    return { result: { password } };
  });
}

async function assertEmailFree(tx: Tx, email: string) {
  const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  if (existing) throw new AppError('CONFLICT', `A user with the email ${email} already exists.`, { field: 'email' });
}

async function lockUserOrThrow(tx: Tx, userId: string) {
  const [row] = await tx.select({ id: users.id, role: users.role }).from(users).where(eq(users.id, userId)).for('update').limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That user does not exist.');
  return row;
}

/** Keeps at least one active admin, so nobody locks the installation out of its settings. */
async function assertAnotherActiveAdmin(tx: Tx, exceptUserId: string) {
  const [other] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.isActive, true), ne(users.id, exceptUserId)))
    .limit(1);
  if (!other) throw new AppError('CONFLICT', 'This is the last active admin; make another user admin first.');
}
