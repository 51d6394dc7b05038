import 'server-only';
import type { z } from 'zod';
import type { Issuer } from '@/db/schema';
import type { getHealthSystemOrThrow, listHealthSystems } from '@/lib/health-systems/queries';
import type { getIssuerOrThrow, listIssuersForOnboarding } from '@/lib/issuers/queries';
import type { DiscoveryResult } from '@/lib/oauth/discovery';
import type { getRegistrationOrThrow } from '@/lib/registrations/queries';
import type { RegistrationTableRow } from '@/lib/registrations/table';
import { registrationFindings } from '@/lib/registrations/findings';
import type {
  healthSystemSchema,
  healthSystemSummarySchema,
  issuerSchema,
  issuerSummarySchema,
  registrationRowSchema,
  registrationSchema,
} from './schemas';

// Domain results → API representations. Dates become ISO 8601 UTC strings; nothing secret is added.

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export function paginate<T>(all: readonly T[], page: number, pageSize: number) {
  return { items: all.slice((page - 1) * pageSize, page * pageSize), page, pageSize, total: all.length };
}

export function healthSystemSummaryView(row: Awaited<ReturnType<typeof listHealthSystems>>[number]): z.input<typeof healthSystemSummarySchema> {
  return {
    id: row.id,
    name: row.name,
    tags: row.tags,
    issuerCount: Number(row.issuerCount),
    registrationCount: Number(row.registrationCount),
    needsAttention: Boolean(row.needsAttention),
    worstWarning: row.worstWarning ? { code: row.worstWarning.code, severity: row.worstWarning.severity, message: row.worstWarning.message } : null,
  };
}

export function healthSystemView(row: Awaited<ReturnType<typeof getHealthSystemOrThrow>>): z.input<typeof healthSystemSchema> {
  return {
    id: row.id,
    name: row.name,
    notes: row.notes,
    contacts: row.contacts,
    tags: row.tags,
    createdAt: row.createdAt.toISOString(),
    issuers: row.issuers.map((i) => ({
      id: i.id,
      environment: i.environment,
      inputUrl: i.inputUrl,
      issuer: i.issuerUrl,
      fhirBaseUrl: i.fhirBaseUrl,
      canRegister: Boolean(i.hasRegistration),
      warnings: i.warnings,
      lastDiscoveredAt: iso(i.lastDiscoveredAt),
      lastError: i.lastError ?? null,
      needsAttention: i.needsAttention,
    })),
  };
}

function endpointsView(endpoints: Issuer['endpoints'] | DiscoveryResult['endpoints']) {
  return Object.fromEntries(
    Object.entries(endpoints)
      .filter(([, v]) => v !== undefined)
      .map(([name, v]) => [name, { url: v!.value, source: v!.source, conflicts: v!.conflicts.map((c) => ({ url: c.value, source: c.source })) }]),
  );
}

export function issuerView(row: Awaited<ReturnType<typeof getIssuerOrThrow>>): z.input<typeof issuerSchema> {
  return {
    id: row.id,
    healthSystemId: row.healthSystemId,
    healthSystemName: row.healthSystemName,
    environment: row.environment,
    inputUrl: row.inputUrl,
    issuer: row.issuerUrl,
    fhirBaseUrl: row.fhirBaseUrl,
    epicClientId: row.epicClientId,
    endpoints: endpointsView(row.endpoints),
    capabilities: row.capabilities,
    scopesSupported: row.scopesSupported,
    grantTypesSupported: row.grantTypesSupported,
    responseTypesSupported: row.responseTypesSupported,
    tokenEndpointAuthMethodsSupported: row.tokenEndpointAuthMethodsSupported,
    tokenEndpointAuthSigningAlgValuesSupported: row.tokenEndpointAuthSigningAlgValuesSupported,
    codeChallengeMethodsSupported: row.codeChallengeMethodsSupported,
    documentsFound: row.documentsFound,
    warnings: row.warnings,
    lastDiscoveredAt: iso(row.lastDiscoveredAt),
    lastError: row.lastError ?? null,
    needsAttention: row.needsAttention,
    attentionReason: row.attentionReason,
  };
}

/** The issuer just added, from its discovery (the caller may hold write without read on it). */
export function addedIssuerView(input: { id: string; healthSystemId: string; environment: string; url: string; epicClientId: string | null }, d: DiscoveryResult): z.input<typeof issuerSchema> {
  return {
    id: input.id,
    healthSystemId: input.healthSystemId,
    environment: input.environment,
    inputUrl: d.input,
    issuer: d.issuer,
    fhirBaseUrl: d.fhirBaseUrl,
    epicClientId: input.epicClientId,
    endpoints: endpointsView(d.endpoints),
    capabilities: d.capabilities,
    scopesSupported: d.scopesSupported,
    grantTypesSupported: d.grantTypesSupported,
    responseTypesSupported: d.responseTypesSupported,
    tokenEndpointAuthMethodsSupported: d.tokenEndpointAuthMethodsSupported,
    tokenEndpointAuthSigningAlgValuesSupported: d.tokenEndpointAuthSigningAlgValuesSupported,
    codeChallengeMethodsSupported: d.codeChallengeMethodsSupported,
    documentsFound: Object.keys(d.documents),
    warnings: d.warnings.map((w) => ({ code: w.code, severity: w.severity, message: w.message, ...(w.document ? { document: w.document } : {}), ...(w.field ? { field: w.field } : {}) })),
    lastDiscoveredAt: new Date(d.discoveredAt).toISOString(),
    lastError: null,
    needsAttention: false,
    attentionReason: null,
  };
}

export function issuerSummaryView(row: Awaited<ReturnType<typeof listIssuersForOnboarding>>[number]): z.input<typeof issuerSummarySchema> {
  return {
    id: row.id,
    healthSystemId: row.healthSystemId,
    healthSystemName: row.healthSystemName,
    environment: row.environment,
    inputUrl: row.inputUrl,
    issuer: row.issuerUrl,
    canRegister: row.canRegister,
  };
}

export function registrationView(row: Awaited<ReturnType<typeof getRegistrationOrThrow>>): z.input<typeof registrationSchema> {
  const findings = registrationFindings(row.requestedMetadata, row.registeredMetadata);
  return {
    id: row.id,
    clientId: row.clientId,
    status: row.status,
    authMethod: row.authMethod,
    managed: row.managed,
    environment: row.environment,
    issuerId: row.issuerId,
    issuerUrl: row.issuerUrl,
    healthSystemId: row.healthSystemId,
    healthSystemName: row.healthSystemName,
    appId: row.appId,
    appName: row.appName,
    appVersion: row.appVersion,
    secretExpiresAt: row.expiry.at,
    expiryState: row.expiry.state,
    clientIdIssuedAt: iso(row.clientIdIssuedAt),
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
    operationId: row.operationId,
    metadata: { requested: row.requestedMetadata, registered: row.registeredMetadata },
    overrides: row.registrationOverrides,
    scopeDiff: findings.scopeDiff,
    redirectUriFindings: findings.redirect.flatMap((r) => r.findings.map((f) => ({ uri: r.uri, code: f.code, severity: f.severity, message: f.message, fix: f.fix }))),
    warnings: row.warnings,
  };
}

export function registrationRowView(row: RegistrationTableRow): z.input<typeof registrationRowSchema> {
  return {
    id: row.id,
    clientId: row.clientId,
    status: row.status,
    authMethod: row.authMethod,
    managed: row.managed,
    environment: row.environment,
    issuerId: row.issuerId,
    issuerUrl: row.issuerUrl,
    healthSystemId: row.healthSystemId,
    healthSystemName: row.healthSystemName,
    appId: row.appId,
    appName: row.appName,
    secretExpiresAt: row.expiry.at,
    expiryState: row.expiry.state,
    redirectFindingCount: row.redirectFindingCount,
    scopeLostCount: row.scopeLostCount,
    lastRotatedAt: row.lastRotatedAt,
    lastCheckedAt: row.lastCheckedAt,
    createdAt: row.createdAt,
  };
}
