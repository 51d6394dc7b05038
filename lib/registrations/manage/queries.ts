import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { apps, registrations } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { registrationDrift, type RegistrationDriftRow } from './refresh';
import { hasFreshServerRecord } from './shared';

export type EditableMetadata = { redirectUris: string[]; scope: string; clientName: string; grantTypes: string[] };

export type RegistrationManagementView = {
  id: string;
  clientId: string;
  status: 'active' | 'needs_attention' | 'management_lost' | 'deleted';
  managed: boolean;
  /** Management is offered and the registration is not deleted: the operations can be tried. */
  manageable: boolean;
  lastCheckedAt: string | null;
  attentionReason: string | null;
  deletedAt: string | null;
  appVersion: number;
  currentAppVersion: number;
  /** Registrar's record against the server's as of the last check; null before the first check. */
  drift: RegistrationDriftRow[] | null;
  /** The stored server record predates the registration's last change. */
  serverRecordStale: boolean;
  /** What the edit form starts from: the server's record when known, else Registrar's. */
  editable: EditableMetadata;
};

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The RFC 7592 management state of a registration, for its page (no credentials, no URIs with tokens). */
export async function getRegistrationManagementView(actor: Actor, registrationId: string): Promise<RegistrationManagementView> {
  assertCan(actor, 'registrations:read');
  const [row] = await getDb()
    .select({
      id: registrations.id,
      clientId: registrations.clientId,
      status: registrations.status,
      managed: registrations.managed,
      registrationClientUri: registrations.registrationClientUri,
      registeredMetadata: registrations.registeredMetadata,
      serverMetadata: registrations.serverMetadata,
      lastCheckedAt: registrations.lastCheckedAt,
      updatedAt: registrations.updatedAt,
      attentionReason: registrations.attentionReason,
      deletedAt: registrations.deletedAt,
      appVersion: registrations.appVersion,
      currentAppVersion: apps.currentVersion,
    })
    .from(registrations)
    .innerJoin(apps, eq(apps.id, registrations.appId))
    .where(eq(registrations.id, registrationId))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  const source = row.serverMetadata ?? row.registeredMetadata;
  return {
    id: row.id,
    clientId: row.clientId,
    status: row.status,
    managed: row.managed,
    manageable: row.managed && row.registrationClientUri !== null && row.status !== 'deleted',
    lastCheckedAt: row.lastCheckedAt?.toISOString() ?? null,
    attentionReason: row.attentionReason,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    appVersion: row.appVersion,
    currentAppVersion: row.currentAppVersion,
    drift: row.serverMetadata ? registrationDrift(row.registeredMetadata, row.serverMetadata) : null,
    serverRecordStale: row.serverMetadata !== null && !hasFreshServerRecord(row),
    editable: {
      redirectUris: strings(source.redirect_uris),
      scope: typeof source.scope === 'string' ? source.scope : '',
      clientName: typeof source.client_name === 'string' ? source.client_name : '',
      grantTypes: strings(source.grant_types),
    },
  };
}
