import 'server-only';
import { and, desc, eq, or } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { credentials, registrations, rotations } from '@/db/schema';
import { actorCan, assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { planFor, type RotationPlan } from './plan';
import { toRotationView, type RotationView } from './view';

export type CredentialSummary = {
  registrationId: string;
  clientId: string;
  fingerprint: string;
  version: number;
  state: 'current' | 'previous' | 'retired';
  expiresAt: string | null;
};

export type RotationPanel = {
  registrationId: string;
  plan: RotationPlan;
  policy: 'automatic' | 'manual';
  renewAt: string | null;
  /** Why the registration needs a person (a failed rotation, an unknown expiry), when it does. */
  attentionReason: string | null;
  /** The viewer may start, verify or abandon rotations (ops, admin). */
  canRotate: boolean;
  latest: RotationView | null;
  history: Array<{ id: string; strategy: RotationView['strategy']; state: RotationView['state']; createdAt: string; finishedAt: string | null }>;
  replacedBy: { id: string; clientId: string } | null;
  replaces: { id: string; clientId: string } | null;
  retiringUntil: string | null;
  /** The secret Registrar calls current for this client's chain, and the one before it (metadata only). */
  currentCredential: CredentialSummary | null;
  previousCredential: CredentialSummary | null;
};

async function secretSummary(registrationId: string, state: 'current' | 'previous'): Promise<CredentialSummary | null> {
  const [row] = await getDb()
    .select({
      registrationId: registrations.id,
      clientId: registrations.clientId,
      fingerprint: credentials.fingerprint,
      version: credentials.version,
      state: credentials.state,
      expiresAt: credentials.expiresAt,
    })
    .from(credentials)
    .innerJoin(registrations, eq(registrations.id, credentials.ownerId))
    .where(and(eq(credentials.ownerType, 'registration'), eq(credentials.ownerId, registrationId), eq(credentials.kind, 'client_secret'), eq(credentials.state, state)))
    .orderBy(desc(credentials.version))
    .limit(1);
  return row ? { ...row, expiresAt: row.expiresAt?.toISOString() ?? null } : null;
}

/** What the registration page's Rotate section shows: the plan before running, progress, the new and the previous credential. */
export async function getRotationPanel(actor: Actor, registrationId: string): Promise<RotationPanel> {
  assertCan(actor, 'registrations:read');
  const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, registrationId)).limit(1);
  if (!reg) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  const plan = await planFor(registrationId);
  const rows = await getDb()
    .select()
    .from(rotations)
    .where(or(eq(rotations.registrationId, registrationId), eq(rotations.newRegistrationId, registrationId)))
    .orderBy(desc(rotations.createdAt))
    .limit(6);
  const related = async (id: string | null) => {
    if (!id) return null;
    const [r] = await getDb().select({ id: registrations.id, clientId: registrations.clientId }).from(registrations).where(eq(registrations.id, id)).limit(1);
    return r ?? null;
  };
  const active = reg.replacedByRegistrationId ? await resolveActiveRegistration(registrationId) : { registrationId, clientId: reg.clientId };
  const currentCredential = await secretSummary(active.registrationId, 'current');
  // The previous secret: this client's own (an in-place rotation), else the one of the client it replaced.
  const previousCredential =
    (await secretSummary(active.registrationId, 'previous')) ??
    (reg.replacesRegistrationId ? await secretSummary(reg.replacesRegistrationId, 'previous') : null) ??
    (reg.replacedByRegistrationId ? await secretSummary(registrationId, 'previous') : null);
  return {
    registrationId,
    plan,
    policy: reg.rotationPolicy,
    renewAt: reg.renewAt?.toISOString() ?? null,
    attentionReason: reg.status === 'needs_attention' ? reg.attentionReason : null,
    canRotate: actorCan(actor, 'registrations:write'),
    latest: rows[0] ? await toRotationView(rows[0]) : null,
    history: rows.slice(1).map((r) => ({ id: r.id, strategy: r.strategy, state: r.state, createdAt: r.createdAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null })),
    replacedBy: await related(reg.replacedByRegistrationId),
    replaces: await related(reg.replacesRegistrationId),
    retiringUntil: reg.retiringUntil?.toISOString() ?? null,
    currentCredential,
    previousCredential,
  };
}

/**
 * The registration Registrar calls current for a client and its replacements: re-registration
 * replaces a client with a new registration, so deployments that know the first one follow the
 * chain to its end. Ids only: the credential itself is read through lib/credentials.
 */
export async function resolveActiveRegistration(registrationId: string): Promise<{ registrationId: string; clientId: string }> {
  let id = registrationId;
  for (let hops = 0; hops < 100; hops++) {
    const [row] = await getDb()
      .select({ id: registrations.id, clientId: registrations.clientId, next: registrations.replacedByRegistrationId })
      .from(registrations)
      .where(eq(registrations.id, id))
      .limit(1);
    if (!row) throw new AppError('NOT_FOUND', 'That registration does not exist.');
    if (!row.next) return { registrationId: row.id, clientId: row.clientId };
    id = row.next;
  }
  throw new AppError('CONFLICT', 'The replacement chain of this registration is too long or loops.');
}

export async function getRotation(actor: Actor, rotationId: string): Promise<RotationView> {
  assertCan(actor, 'registrations:read');
  const [row] = await getDb().select().from(rotations).where(eq(rotations.id, rotationId)).limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That rotation does not exist.');
  return toRotationView(row);
}
