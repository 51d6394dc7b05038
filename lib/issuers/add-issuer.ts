import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { isUniqueViolation } from '@/db/errors';
import { discoveryRuns, healthSystems, issuers } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation, recordAudit } from '@/lib/audit/record';
import { AppError, isAppError } from '@/lib/errors';
import { discover, type DiscoveryResult } from '@/lib/oauth/discovery';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { discoverySummary, issuerColumnsFromDiscovery } from './discovery-record';
import { addIssuerSchema, type AddIssuerInput } from './schemas';

export type AddIssuerResult = { id: string; issuer: string | null; discovery: DiscoveryResult };

/**
 * Adds an authorization server to a health system from an issuer or FHIR base URL. Discovery runs
 * first (outside any transaction: it is network I/O); a refused or failed discovery adds nothing
 * and is audited as a failure with its code.
 */
export async function addIssuer(actor: Actor, input: AddIssuerInput): Promise<AddIssuerResult> {
  assertCan(actor, 'health-systems:write');
  const data = addIssuerSchema.parse(input);
  const audit = { action: 'issuer.add', targetType: 'health_system', targetId: data.healthSystemId, details: { url: data.url, environment: data.environment } };

  const [system] = await getDb().select({ id: healthSystems.id }).from(healthSystems).where(eq(healthSystems.id, data.healthSystemId)).limit(1);
  if (!system) throw new AppError('NOT_FOUND', 'That health system does not exist.');
  await assertNotAlreadyAdded(data.url);

  const startedAt = new Date();
  let result: DiscoveryResult;
  try {
    result = await discover(data.url, { epicClientId: data.epicClientId ?? undefined, fetchInit: { policy: await currentOutboundPolicy() } });
  } catch (error) {
    await recordAudit(getDb(), actor, { ...audit, outcome: 'failure', details: { ...audit.details, error: isAppError(error) ? error.code : 'INTERNAL' } });
    if (isAppError(error)) throw new AppError(error.code, error.message, { field: 'url', ...error.details });
    throw error;
  }
  if (result.failure) {
    await recordAudit(getDb(), actor, { ...audit, outcome: 'failure', details: { ...audit.details, ...discoverySummary(result) } });
    throw new AppError(result.failure.code, result.failure.message, { field: 'url', attempts: result.attempts.map((a) => ({ kind: a.kind, url: a.url, outcome: a.outcome, message: a.message })) });
  }
  if (result.issuer) await assertNotAlreadyAdded(result.issuer);

  return auditedMutation(actor, { ...audit, details: { ...audit.details, ...discoverySummary(result) } }, async (tx) => {
    const [row] = await tx
      .insert(issuers)
      .values({
        healthSystemId: data.healthSystemId,
        environment: data.environment,
        inputUrl: data.url,
        epicClientId: data.epicClientId,
        ...issuerColumnsFromDiscovery(result),
      })
      .returning({ id: issuers.id })
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw alreadyAdded(result.issuer ?? data.url);
        throw error;
      });
    if (!row) throw new AppError('CONFLICT', 'The issuer could not be added.');
    await tx.insert(discoveryRuns).values({ issuerId: row.id, trigger: 'create', outcome: 'ok', startedAt, result: result as unknown as Record<string, unknown> });
    return { result: { id: row.id, issuer: result.issuer, discovery: result }, details: { issuerId: row.id } };
  });
}

function alreadyAdded(url: string) {
  return new AppError('CONFLICT', `The authorization server ${url} has already been added.`, { field: 'url' });
}

async function assertNotAlreadyAdded(url: string) {
  const [byInput] = await getDb().select({ id: issuers.id }).from(issuers).where(eq(issuers.inputUrl, url)).limit(1);
  const [byIssuer] = byInput ? [byInput] : await getDb().select({ id: issuers.id }).from(issuers).where(eq(issuers.issuerUrl, url)).limit(1);
  if (byInput || byIssuer) throw alreadyAdded(url);
}
