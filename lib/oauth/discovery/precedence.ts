import 'server-only';

import type { DocumentKind, PrecedenceField } from './types';

/**
 * Which document wins when several give a value, field by field. The one place these rules live;
 * the UI shows them through describePrecedence(). A document that does not define a field is not
 * listed for it. Losing values that differ are kept as `conflicts` and warned about.
 */
export const MERGE_PRECEDENCE: Record<PrecedenceField, DocumentKind[]> = {
  authorization: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'capability-statement', 'udap'],
  token: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'capability-statement', 'udap'],
  registration: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'capability-statement', 'udap'],
  management: ['smart-configuration', 'capability-statement'],
  jwks: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server'],
  introspection: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'capability-statement'],
  revocation: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'capability-statement'],
  userinfo: ['openid-configuration', 'oauth-authorization-server'],
  metadata: ['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'udap'],
};

const WHY: Record<PrecedenceField, string> = {
  authorization:
    'The SMART document is what SMART apps use for this FHIR server (and where Epic puts per-client endpoints); ' +
    'OpenID and RFC 8414 metadata come next because their issuer is checked byte for byte; the CapabilityStatement ' +
    'extension is the legacy SMART v1 form and cannot be tied to an issuer; UDAP endpoints are meant for UDAP workflows only.',
  token:
    'Same order as the authorization endpoint: SMART document, then issuer-checked OpenID / RFC 8414 metadata, then the ' +
    'legacy CapabilityStatement extension, then UDAP (for UDAP workflows only).',
  registration:
    'Same order as the token endpoint. Epic advertises its registration endpoint only in the SMART document and ' +
    'CapabilityStatement, and only when asked with an Epic-Client-ID header.',
  management:
    'Only the SMART document (management_endpoint) and the CapabilityStatement (manage) define this; it is the page ' +
    'where users manage app authorizations, not the RFC 7592 registration management URI.',
  jwks:
    'The SMART document names the key set SMART apps verify id_tokens with; OpenID / RFC 8414 metadata otherwise.',
  introspection:
    'SMART document first, then issuer-checked OpenID / RFC 8414 metadata, then the legacy CapabilityStatement extension.',
  revocation:
    'SMART document first, then issuer-checked OpenID / RFC 8414 metadata, then the legacy CapabilityStatement extension.',
  userinfo: 'Only OpenID Connect (and RFC 8414 servers that copy it) define a userinfo endpoint.',
  metadata:
    'Lists (scopes, grant types, response types, client authentication methods and algorithms, PKCE methods) are taken ' +
    'whole from the first document that has them: SMART, then OpenID, then RFC 8414, then UDAP. They are not unioned, ' +
    'so a value no single document promises is never claimed. Capabilities come from the SMART document only.',
};

/** The merge rules in display form: field, winning order, and the reason for that order. */
export function describePrecedence(): Array<{ field: string; order: DocumentKind[]; why: string }> {
  return (Object.keys(MERGE_PRECEDENCE) as PrecedenceField[]).map((field) => ({
    field,
    order: [...MERGE_PRECEDENCE[field]],
    why: WHY[field],
  }));
}
