import 'server-only';
import type { Issuer } from '@/db/schema';
import type { DiscoveryResult } from '@/lib/oauth/discovery';

/** The issuer columns a successful discovery sets. */
export function issuerColumnsFromDiscovery(result: DiscoveryResult): Partial<Issuer> {
  return {
    issuerUrl: result.issuer,
    fhirBaseUrl: result.fhirBaseUrl,
    endpoints: Object.fromEntries(Object.entries(result.endpoints).filter(([, v]) => v !== undefined)) as Issuer['endpoints'],
    scopesSupported: result.scopesSupported,
    grantTypesSupported: result.grantTypesSupported,
    responseTypesSupported: result.responseTypesSupported,
    tokenEndpointAuthMethodsSupported: result.tokenEndpointAuthMethodsSupported,
    tokenEndpointAuthSigningAlgValuesSupported: result.tokenEndpointAuthSigningAlgValuesSupported,
    codeChallengeMethodsSupported: result.codeChallengeMethodsSupported,
    capabilities: result.capabilities,
    documentsFound: Object.keys(result.documents),
    warnings: result.warnings,
    lastDiscoveredAt: new Date(result.discoveredAt),
    lastError: null,
  };
}

/** A short, secret-free summary of a discovery for audit details. */
export function discoverySummary(result: DiscoveryResult) {
  return {
    issuer: result.issuer,
    documents: Object.keys(result.documents),
    warnings: result.warnings.map((w) => w.code),
    failure: result.failure?.code ?? null,
  };
}
