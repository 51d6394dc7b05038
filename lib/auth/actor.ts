import 'server-only';
import type { Role } from '@/db/schema';
import { AppError } from '@/lib/errors';
import { can, type Permission } from './permissions';

/** Who is acting. Every domain function takes one and checks it itself. */
export type Actor =
  | { type: 'user'; id: string; email: string; role: Role; requestId?: string }
  | { type: 'system'; id: 'system'; label: string; role: 'admin'; requestId?: string }
  /** A machine client; `permissions` narrows the role when the token was created with a subset. */
  | { type: 'api_token'; id: string; label: string; role: Role; permissions: readonly Permission[] | null; requestId?: string };

export function systemActor(label: string): Actor {
  return { type: 'system', id: 'system', label, role: 'admin' };
}

export function actorLabel(actor: Actor): string {
  return actor.type === 'user' ? actor.email : actor.label;
}

/** The role's grant, narrowed by an API token's permission subset. */
export function actorCan(actor: Actor, permission: Permission): boolean {
  if (!can(actor.role, permission)) return false;
  return actor.type !== 'api_token' || actor.permissions === null || actor.permissions.includes(permission);
}

/** Throws FORBIDDEN unless the actor's role grants the permission. */
export function assertCan(actor: Actor, permission: Permission): void {
  if (!actorCan(actor, permission)) {
    const who = actor.type === 'api_token' && can(actor.role, permission) ? 'This API token' : `Your role (${actor.role})`;
    throw new AppError('FORBIDDEN', `${who} does not allow this (${permission}).`, { permission });
  }
}
