import 'server-only';
import { randomBytes } from 'node:crypto';
import { getDb } from './client';
import { users, type Role } from './schema';
import { hashPassword } from '@/lib/auth/password';
import type { Actor } from '@/lib/auth/actor';

/** A unique suffix so tests and seeds never collide on unique columns. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** Inserts a user directly (seeds and tests). Returns its actor and, when asked, a password. */
export async function insertUser(opts: { role: Role; email?: string; password?: string; isActive?: boolean; name?: string }) {
  const email = (opts.email ?? `${opts.role}-${uniqueSuffix()}@example.test`).toLowerCase();
  const passwordHash = opts.password ? await hashPassword(opts.password) : null;
  const [row] = await getDb()
    .insert(users)
    .values({ email, role: opts.role, passwordHash, isActive: opts.isActive ?? true, name: opts.name ?? null })
    .returning({ id: users.id, email: users.email, role: users.role });
  if (!row) throw new Error('insertUser: no row returned');
  const actor: Actor = { type: 'user', id: row.id, email: row.email, role: row.role };
  return { ...row, actor };
}
