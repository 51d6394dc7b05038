import 'server-only';
import { and, desc, eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { apps, auditLog, healthSystems, issuers, registrations } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { listCredentialMeta } from '@/lib/credentials/store';
import { AppError } from '@/lib/errors';
import type { RegistrationOverrides } from './build-request';
import { expiryOf } from './expiry';
import { registrationFindings } from './findings';
import { isUuid } from '@/lib/ids';

const summaryColumns = {
  id: registrations.id,
  clientId: registrations.clientId,
  environment: registrations.environment,
  status: registrations.status,
  authMethod: registrations.authMethod,
  managed: registrations.managed,
  secretExpiryKind: registrations.secretExpiryKind,
  secretExpiresAt: registrations.secretExpiresAt,
  createdAt: registrations.createdAt,
  issuerUrl: issuers.issuerUrl,
  issuerId: issuers.id,
  healthSystemName: healthSystems.name,
  healthSystemId: healthSystems.id,
  appName: apps.name,
  appId: apps.id,
};

/** Everything the detail page shows. Credentials appear as metadata only (fingerprints, never values). */
export async function getRegistrationOrThrow(actor: Actor, id: string) {
  assertCan(actor, 'registrations:read');
  if (!isUuid(id)) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  const [row] = await getDb()
    .select({
      ...summaryColumns,
      appVersion: registrations.appVersion,
      registrationClientUri: registrations.registrationClientUri,
      requestedMetadata: registrations.requestedMetadata,
      registeredMetadata: registrations.registeredMetadata,
      clientIdIssuedAt: registrations.clientIdIssuedAt,
      warnings: registrations.warnings,
      operationId: registrations.operationId,
      createdBy: registrations.createdBy,
      registrationOverrides: registrations.registrationOverrides,
    })
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .innerJoin(apps, eq(apps.id, registrations.appId))
    .where(eq(registrations.id, id))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  const credentials = (await listCredentialMeta(getDb(), 'registration', id)).filter((c) => c.kind !== 'response_body');
  const overrides = row.registrationOverrides as RegistrationOverrides | null;
  return {
    ...row,
    // The changes to the app profile it was registered or last synced with; null when none.
    registrationOverrides: overrides && Object.keys(overrides).length > 0 ? overrides : null,
    credentials,
    expiry: expiryOf(row.secretExpiryKind, row.secretExpiresAt, new Date()),
    findings: registrationFindings(row.requestedMetadata, row.registeredMetadata),
  };
}

/** The audit trail of one registration (managers and admins, like the audit log itself). */
export async function getRegistrationActivity(actor: Actor, registrationId: string, limit = 50) {
  assertCan(actor, 'audit:read');
  return getDb()
    .select({ id: auditLog.id, at: auditLog.at, actorLabel: auditLog.actorLabel, action: auditLog.action, outcome: auditLog.outcome })
    .from(auditLog)
    .where(and(eq(auditLog.targetType, 'registration'), eq(auditLog.targetId, registrationId)))
    .orderBy(desc(auditLog.id))
    .limit(limit);
}
