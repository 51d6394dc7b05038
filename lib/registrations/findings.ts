import { validateRedirectUris } from '@/lib/redirect-uris';
import { diffScopes } from '@/lib/smart';

const asStrings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Findings derived from a registration's metadata: redirect-URI rule violations of what the server
 * registered, and the SMART scope diff of requested vs granted. Counts are stored for SQL filters.
 */
export function registrationFindings(requested: Record<string, unknown>, registered: Record<string, unknown>) {
  const applicationType = registered.application_type === 'web' || registered.application_type === 'native' ? registered.application_type : undefined;
  const redirect = validateRedirectUris(asStrings(registered.redirect_uris), { applicationType });
  const requestedScope = typeof requested.scope === 'string' ? requested.scope : '';
  const grantedScope = typeof registered.scope === 'string' ? registered.scope : requestedScope;
  const scopeDiff = diffScopes({ requested: requestedScope, granted: grantedScope });
  return {
    redirect,
    scopeDiff,
    redirectFindingCount: redirect.reduce((n, r) => n + r.findings.filter((f) => f.severity !== 'info').length, 0),
    scopeLostCount: scopeDiff.lost.length,
  };
}
