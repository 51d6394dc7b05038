import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { getDb, type Db } from '@/db/client';
import { violatedConstraint } from '@/db/errors';
import { auditLog, credentials, registrationOperations, registrations } from '@/db/schema';
import { actorLabel, type Actor } from '@/lib/auth/actor';
import { auditRow } from '@/lib/audit/record';
import { sealInitialCredentials } from '@/lib/credentials/store';
import type { RegistrationResponse } from '@/lib/oauth/registration';
import type { Adaptation, RegistrationOverrides } from './build-request';
import { registrationFindings } from './findings';
import { placeholdersFor, preparedStatement, shapeOf, valuesFor } from './prepared';
import { AppError } from '@/lib/errors';

export type PersistInput = {
  operationId: string;
  issuerId: string;
  appId: string;
  appVersion: number;
  environment: string;
  authMethod: string;
  appKeyId: string | null;
  requested: Record<string, unknown>;
  adaptations: Adaptation[];
  response: RegistrationResponse;
  audit: { action: string; targetType: string; targetId: string; details: Record<string, unknown> };
  attempts: number;
  /** The form's changes to the profile and how the request was signed, kept for re-registration and sync. */
  overrides?: RegistrationOverrides | null;
  statementMode?: 'sign' | 'udap' | 'provided' | null;
};

/** The unique index that makes a second import of the same answer find the first (db/schema.ts). */
const ISSUER_CLIENT_KEY = 'registrations_issuer_client_key';

/**
 * Stores a registration the hospital accepted: the registration row, its encrypted credentials and
 * raw answer, the operation's result and the audit row, in ONE statement (data-modifying CTEs), so
 * all land or none does without a BEGIN/COMMIT round trip each. Idempotent: when the answer is
 * already stored (a recovery import after a partial success) the existing registration's id is returned.
 */
export async function persistRegistration(actor: Actor, input: Omit<PersistInput, 'attempts'>): Promise<string> {
  // Chosen here, not by the database: the credential envelopes bind the owner's id as authenticated data.
  const rows = persistRows(actor, input, randomUUID());
  try {
    const [row] = await persistStatement(getDb(), rows).execute(persistValues(rows));
    if (row?.id !== rows.registration.id) throw new Error('The registration statement returned no row.');
    return row.id;
  } catch (error) {
    if (violatedConstraint(error) !== ISSUER_CLIENT_KEY) throw error;
    const [existing] = await getDb()
      .select({ id: registrations.id, operationId: registrations.operationId })
      .from(registrations)
      .where(and(eq(registrations.issuerId, input.issuerId), eq(registrations.clientId, input.response.clientId)));
    if (!existing) throw error;
    // The same answer stored before (a retry after a commit whose acknowledgement was lost, a
    // second import): done. Another operation's registration with this client_id is not this answer:
    // returning it would drop the new credentials the hospital just issued.
    if (existing.operationId === input.operationId) return existing.id;
    throw new AppError(
      'CONFLICT',
      `The hospital answered with client_id ${input.response.clientId}, which Registrar already holds for another registration (${existing.id}). The new credentials were not stored over it.`,
      { registrationId: existing.id, clientId: input.response.clientId },
      { cause: error },
    );
  }
}

type PersistRows = ReturnType<typeof persistRows>;

/** What the statement writes, as plain rows (secrets already sealed). */
function persistRows(actor: Actor, input: Omit<PersistInput, 'attempts'>, id: string) {
  const r = input.response;
  const warnings = [
    ...r.warnings,
    ...input.adaptations.map((a) => ({ code: 'ADAPTED', message: `${a.field}: ${JSON.stringify(a.from)} → ${JSON.stringify(a.to)}. ${a.reason}`, field: a.field })),
  ];
  const findings = registrationFindings(input.requested, r.metadata);
  const registration = {
    id,
    issuerId: input.issuerId,
    appId: input.appId,
    appVersion: input.appVersion,
    environment: input.environment,
    clientId: r.clientId,
    authMethod: typeof r.metadata.token_endpoint_auth_method === 'string' ? r.metadata.token_endpoint_auth_method : input.authMethod,
    managed: Boolean(r.registrationClientUri && r.registrationAccessToken),
    registrationClientUri: r.registrationClientUri,
    requestedMetadata: input.requested,
    registeredMetadata: r.metadata,
    clientIdIssuedAt: r.clientIdIssuedAt,
    secretExpiryKind: r.secretExpiry.kind,
    secretExpiresAt: r.secretExpiry.kind === 'at' ? r.secretExpiry.at : null,
    appKeyId: input.appKeyId,
    warnings,
    redirectFindingCount: findings.redirectFindingCount,
    scopeLostCount: findings.scopeLostCount,
    operationId: input.operationId,
    createdBy: actorLabel(actor),
    registrationOverrides: input.overrides && Object.keys(input.overrides).length > 0 ? input.overrides : null,
    softwareStatementMode: input.statementMode ?? null,
  } satisfies typeof registrations.$inferInsert;
  // Always a response_body row, so the credentials insert is never empty.
  const secrets = sealInitialCredentials('registration', id, [
    ...(r.clientSecret ? [{ kind: 'client_secret' as const, plaintext: r.clientSecret, expiresAt: r.secretExpiry.kind === 'at' ? r.secretExpiry.at : null }] : []),
    ...(r.registrationAccessToken ? [{ kind: 'registration_access_token' as const, plaintext: r.registrationAccessToken }] : []),
    { kind: 'response_body' as const, plaintext: r.rawBody },
  ]);
  const audit = auditRow(actor, {
    ...input.audit,
    targetType: 'registration',
    targetId: id,
    details: { ...input.audit.details, issuerId: input.issuerId, clientId: r.clientId, secretExpiry: r.secretExpiry.kind, warnings: warnings.map((w) => w.code) },
  });
  return { registration, secrets, audit, operation: { id: input.operationId, updatedAt: new Date() } };
}

function persistValues(rows: PersistRows): Record<string, unknown> {
  return Object.assign(
    valuesFor('registration', rows.registration),
    ...rows.secrets.map((row, i) => valuesFor(`secret${i}`, row)),
    valuesFor('audit', rows.audit),
    valuesFor('operation', rows.operation),
  );
}

/**
 * with registration as (insert … returning id), secrets as (insert …), operation as (update …),
 * audit as (insert …) select id from registration. PostgreSQL runs every data-modifying CTE to
 * completion whether or not the outer select reads it, as one statement: a failure in any of
 * them (a constraint, a trigger) rolls back all four.
 */
function persistStatement(db: Db, rows: PersistRows) {
  return preparedStatement(db, `persist:${shapeOf(rows.registration, rows.audit, ...rows.secrets)}`, () => {
    const registration = db.$with('registration').as(db.insert(registrations).values(placeholdersFor('registration', rows.registration)).returning({ id: registrations.id }));
    const secrets = db.$with('secrets').as(db.insert(credentials).values(rows.secrets.map((row, i) => placeholdersFor(`secret${i}`, row))));
    const operation = db.$with('operation').as(
      db
        .update(registrationOperations)
        // set() takes no placeholders in its types; wrapped in sql they are sent as given (pg encodes the Date).
        .set({ status: 'succeeded', registrationId: sql`${sql.placeholder('registration.id')}`, error: null, updatedAt: sql`${sql.placeholder('operation.updatedAt')}` })
        .where(eq(registrationOperations.id, sql.placeholder('operation.id'))),
    );
    const audit = db.$with('audit').as(db.insert(auditLog).values(placeholdersFor('audit', rows.audit)));
    return db.with(registration, secrets, operation, audit).select({ id: registration.id }).from(registration);
  });
}
