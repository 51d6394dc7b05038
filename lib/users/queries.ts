import 'server-only';
import { asc, count, eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { users } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';

/** The columns the UI may see: never the password hash. */
const publicColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  isActive: users.isActive,
  lastSignInAt: users.lastSignInAt,
  createdAt: users.createdAt,
};

export async function listUsers(actor: Actor) {
  assertCan(actor, 'users:manage');
  return getDb().select(publicColumns).from(users).orderBy(asc(users.email));
}

export async function countUsers(): Promise<number> {
  const [row] = await getDb().select({ n: count() }).from(users);
  return row?.n ?? 0;
}

/** Current role and state, read from the database on every request (not from the session). */
export async function findActiveUserById(id: string) {
  const [row] = await getDb()
    .select({ id: users.id, email: users.email, name: users.name, role: users.role, isActive: users.isActive, sessionsValidAfter: users.sessionsValidAfter, sessionEpoch: users.sessionEpoch })
    .from(users)
    .where(eq(users.id, id))
    .limit(1);
  return row && row.isActive ? row : null;
}
