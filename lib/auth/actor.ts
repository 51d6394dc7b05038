import 'server-only';
import type { Role } from '@/db/schema';
import { AppError } from '@/lib/errors';
import { can, type Permission } from './permissions';

/** Who is acting. Every domain function takes one and checks it itself. */
export type Actor =
  | { type: 'user'; id: string; email: string; role: Role; requestId?: string }
  | { type: 'system'; id: 'system'; label: string; role: 'admin'; requestId?: string };

export function systemActor(label: string): Actor {
  return { type: 'system', id: 'system', label, role: 'admin' };
}

export function actorLabel(actor: Actor): string {
  return actor.type === 'user' ? actor.email : actor.label;
}

/** Throws FORBIDDEN unless the actor's role grants the permission. */
export function assertCan(actor: Actor, permission: Permission): void {
  if (!can(actor.role, permission)) {
    throw new AppError('FORBIDDEN', `Your role (${actor.role}) does not allow this (${permission}).`, { permission });
  }
}
