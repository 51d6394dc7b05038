import type { Role } from '@/db/schema';

/**
 * Permissions are data: this table is the single source of truth for both the UI (what to show)
 * and the server (what to allow). Nothing else compares role names.
 */
export const PERMISSIONS = [
  'users:manage',
  'settings:manage',
  'health-systems:read',
  'health-systems:write',
  'registrations:read',
  'registrations:write',
  'credentials:reveal',
  /** Machine clients (API tokens) reading a registration's current credentials; admin and ops only. */
  'credentials:read',
  'audit:read',
  'export:run',
  'diagnostics:run',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  ops: [
    'health-systems:read',
    'health-systems:write',
    'registrations:read',
    'registrations:write',
    'credentials:reveal',
    'credentials:read',
    'diagnostics:run',
  ],
  manager: ['health-systems:read', 'registrations:read', 'audit:read', 'export:run'],
  support: ['health-systems:read', 'registrations:read', 'diagnostics:run'],
};

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  admin: 'Users, settings and everything else.',
  ops: 'Onboard hospitals; rotate, update and delete registrations.',
  manager: 'Read everything including the audit log; export.',
  support: 'Read registrations and run diagnostics; never sees a secret.',
};
