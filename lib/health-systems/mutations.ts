import 'server-only';
import { eq } from 'drizzle-orm';
import { isUniqueViolation } from '@/db/errors';
import { healthSystems } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { healthSystemInputSchema, updateHealthSystemSchema, type HealthSystemInput } from './schemas';

const duplicateName = (name: string) => (error: unknown) => {
  if (isUniqueViolation(error)) throw new AppError('CONFLICT', `A health system named “${name}” already exists.`, { field: 'name' });
  throw error;
};

export async function createHealthSystem(actor: Actor, input: HealthSystemInput) {
  assertCan(actor, 'health-systems:write');
  const data = healthSystemInputSchema.parse(input);
  return auditedMutation(actor, { action: 'health_system.create', targetType: 'health_system', details: { name: data.name } }, async (tx) => {
    const [row] = await tx
      .insert(healthSystems)
      .values({ name: data.name, notes: data.notes, contacts: data.contacts, tags: data.tags })
      .returning({ id: healthSystems.id, name: healthSystems.name })
      .catch(duplicateName(data.name));
    if (!row) throw new AppError('CONFLICT', 'The health system could not be created.');
    return { result: row, targetId: row.id };
  });
}

export async function updateHealthSystem(actor: Actor, input: HealthSystemInput & { id: string }) {
  assertCan(actor, 'health-systems:write');
  const data = updateHealthSystemSchema.parse(input);
  return auditedMutation(actor, { action: 'health_system.update', targetType: 'health_system', targetId: data.id, details: { name: data.name } }, async (tx) => {
    const [row] = await tx
      .update(healthSystems)
      .set({ name: data.name, notes: data.notes, contacts: data.contacts, tags: data.tags, updatedAt: new Date() })
      .where(eq(healthSystems.id, data.id))
      .returning({ id: healthSystems.id, name: healthSystems.name })
      .catch(duplicateName(data.name));
    if (!row) throw new AppError('NOT_FOUND', 'That health system does not exist.');
    return { result: row };
  });
}
