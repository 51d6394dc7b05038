import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { textIn, uuidIn } from '@/db/any-of';
import { getDb } from '@/db/client';
import { rowFromDriver } from '@/db/rows';
import { auditLog, credentials, registrations, rotations, type Rotation } from '@/db/schema';
import { auditRow } from '@/lib/audit/record';
import { actorLabel, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { ACTIVE_ROTATION_STATES, planForMany } from './plan';

export type CreatedRotation = { registrationId: string; rotation: Rotation; created: boolean };
export type CreateRotationsResult = { rotations: CreatedRotation[]; refused: Array<{ registrationId: string; reason: string }> };

/**
 * Inserts a rotation row (state planned) for each registration, or finds the active one: no
 * upstream call. Planned in a handful of queries whatever the count, so the scan and bulk
 * rotation can start hundreds at once. The partial unique index "one active rotation per
 * registration" makes a concurrent start insert nothing; that registration joins the active one.
 */
export async function createRotations(actor: Actor, registrationIds: readonly string[], trigger: Rotation['trigger'], opts: { bulkId?: string } = {}): Promise<CreateRotationsResult> {
  const ids = [...new Set(registrationIds.map((id) => id.toLowerCase()))];
  if (ids.length === 0) return { rotations: [], refused: [] };
  const plans = await planForMany(ids);
  const planned = new Set(plans.map((p) => p.registrationId));
  const refused = ids.filter((id) => !planned.has(id)).map((registrationId) => ({ registrationId, reason: 'That registration does not exist.' }));
  const joinIds: string[] = [];
  const toStart = plans.filter((plan) => {
    if (plan.activeRotationId) joinIds.push(plan.registrationId);
    else if (!plan.strategy || plan.blockers.length > 0) refused.push({ registrationId: plan.registrationId, reason: plan.blockers.join(' ') || 'This registration cannot be rotated.' });
    else return true;
    return false;
  });

  const startIds = toStart.map((p) => p.registrationId);
  const [currentSecrets, keys] = startIds.length
    ? await Promise.all([
        getDb()
          .select({ id: credentials.id, ownerId: credentials.ownerId })
          .from(credentials)
          .where(and(eq(credentials.ownerType, 'registration'), uuidIn(credentials.ownerId, startIds), eq(credentials.kind, 'client_secret'), eq(credentials.state, 'current'))),
        getDb().select({ id: registrations.id, appKeyId: registrations.appKeyId }).from(registrations).where(uuidIn(registrations.id, startIds)),
      ])
    : [[], []];
  const secretOf = new Map(currentSecrets.map((c) => [c.ownerId, c.id]));
  const keyOf = new Map(keys.map((k) => [k.id, k.appKeyId]));

  const inserted = toStart.length ? await insertRotations(actor, toStart, { trigger, bulkId: opts.bulkId ?? null, secretOf, keyOf }) : [];
  const insertedFor = new Set(inserted.map((r) => r.registrationId));
  joinIds.push(...startIds.filter((id) => !insertedFor.has(id)));

  const joined = joinIds.length
    ? await getDb()
        .select()
        .from(rotations)
        .where(and(uuidIn(rotations.registrationId, joinIds), textIn(rotations.state, ACTIVE_ROTATION_STATES)))
    : [];
  const joinedFor = new Set(joined.map((r) => r.registrationId));
  for (const id of joinIds) {
    if (!joinedFor.has(id)) refused.push({ registrationId: id, reason: 'Another rotation of this registration finished at the same moment; try again.' });
  }
  return {
    rotations: [...inserted.map((rotation) => ({ registrationId: rotation.registrationId, rotation, created: true })), ...joined.map((rotation) => ({ registrationId: rotation.registrationId, rotation, created: false }))],
    refused,
  };
}

/** One registration: the rotation started, or the active one joined; refusals are errors. */
export async function createRotation(actor: Actor, registrationId: string, trigger: Rotation['trigger']): Promise<{ rotation: Rotation; created: boolean }> {
  const result = await createRotations(actor, [registrationId], trigger);
  const [first] = result.rotations;
  if (first) return { rotation: first.rotation, created: first.created };
  const reason = result.refused[0]?.reason ?? 'This registration cannot be rotated.';
  throw new AppError(reason === 'That registration does not exist.' ? 'NOT_FOUND' : reason.startsWith('Another rotation') ? 'CONFLICT' : 'INVALID', reason);
}

/**
 * The rotation rows and their audit rows in one statement (no transaction round trips, no query
 * builder for hundreds of rows): ids are chosen here so each audit row names its rotation, and an
 * audit row is written only for a rotation that was inserted. The partial unique index "one active
 * rotation per registration" makes a concurrent start insert nothing for that registration.
 */
async function insertRotations(
  actor: Actor,
  plans: ReadonlyArray<Awaited<ReturnType<typeof planForMany>>[number]>,
  opts: { trigger: Rotation['trigger']; bulkId: string | null; secretOf: Map<string, string>; keyOf: Map<string, string | null> },
): Promise<Rotation[]> {
  const rows = plans.map((plan) => ({
    id: randomUUID(),
    registration_id: plan.registrationId,
    strategy: plan.strategy!,
    plan: { steps: plan.steps, why: plan.why },
    old_credential_id: opts.secretOf.get(plan.registrationId) ?? null,
    old_app_key_id: opts.keyOf.get(plan.registrationId) ?? null,
  }));
  const audits = rows.map((row) =>
    auditRow(actor, { action: 'rotation.start', targetType: 'registration', targetId: row.registration_id, details: { rotationId: row.id, strategy: row.strategy, trigger: opts.trigger, ...(opts.bulkId ? { bulkId: opts.bulkId } : {}) } }),
  );
  const result = await getDb().execute<Record<string, unknown>>(sql`
    with inserted as (
      insert into ${rotations} (id, registration_id, strategy, trigger, plan, old_credential_id, old_app_key_id, created_by, bulk_id)
      select v.id, v.registration_id, v.strategy, ${opts.trigger}, v.plan, v.old_credential_id, v.old_app_key_id, ${actorLabel(actor)}, ${opts.bulkId}::uuid
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
             as v(id uuid, registration_id uuid, strategy text, plan jsonb, old_credential_id uuid, old_app_key_id uuid)
      on conflict do nothing
      returning *),
    audit as (
      insert into ${auditLog} (actor_type, actor_id, actor_label, role, action, target_type, target_id, outcome, request_id, details)
      select a."actorType", a."actorId", a."actorLabel", a.role, a.action, a."targetType", a."targetId", a.outcome, a."requestId", a.details
        from jsonb_to_recordset(${JSON.stringify(audits)}::jsonb)
             as a("actorType" text, "actorId" text, "actorLabel" text, role text, action text, "targetType" text, "targetId" text, outcome text, "requestId" text, details jsonb)
       where (a.details->>'rotationId')::uuid in (select id from inserted))
    select * from inserted`);
  return result.rows.map((row) => rowFromDriver(rotations, row));
}
