import 'server-only';
import { parseJsonWithoutUnsafeKeys } from '@/lib/safe-json';

/**
 * Client metadata names defined by RFC 7591, RFC 7592, OpenID Connect Dynamic Client Registration
 * 1.0 and its logout/CIBA extensions, the IANA "OAuth Dynamic Client Registration Metadata"
 * registry, and UDAP. A returned field outside this list (and not requested) is reported as
 * UNEXPECTED_FIELDS; a field named in an invalid_client_metadata description is mapped to `field`.
 */
export const KNOWN_METADATA_FIELDS: ReadonlySet<string> = new Set([
  // RFC 7591
  'redirect_uris',
  'token_endpoint_auth_method',
  'grant_types',
  'response_types',
  'client_name',
  'client_uri',
  'logo_uri',
  'scope',
  'contacts',
  'tos_uri',
  'policy_uri',
  'jwks_uri',
  'jwks',
  'software_id',
  'software_version',
  'software_statement',
  'client_id',
  'client_secret',
  'client_id_issued_at',
  'client_secret_expires_at',
  // RFC 7592
  'registration_access_token',
  'registration_client_uri',
  // OpenID Connect Dynamic Client Registration 1.0
  'application_type',
  'sector_identifier_uri',
  'subject_type',
  'id_token_signed_response_alg',
  'id_token_encrypted_response_alg',
  'id_token_encrypted_response_enc',
  'userinfo_signed_response_alg',
  'userinfo_encrypted_response_alg',
  'userinfo_encrypted_response_enc',
  'request_object_signing_alg',
  'request_object_encryption_alg',
  'request_object_encryption_enc',
  'token_endpoint_auth_signing_alg',
  'default_max_age',
  'require_auth_time',
  'default_acr_values',
  'initiate_login_uri',
  'request_uris',
  'post_logout_redirect_uris',
  'frontchannel_logout_uri',
  'frontchannel_logout_session_required',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'backchannel_token_delivery_mode',
  'backchannel_client_notification_endpoint',
  'backchannel_authentication_request_signing_alg',
  'backchannel_user_code_parameter',
  // IANA registry (RFC 8705, 9101, 9126, 9396, 9449, JARM, introspection/revocation auth)
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
  'tls_client_certificate_bound_access_tokens',
  'require_signed_request_object',
  'require_pushed_authorization_requests',
  'authorization_details_types',
  'dpop_bound_access_tokens',
  'authorization_signed_response_alg',
  'authorization_encrypted_response_alg',
  'authorization_encrypted_response_enc',
  'introspection_endpoint_auth_method',
  'introspection_endpoint_auth_signing_alg',
  'introspection_signed_response_alg',
  'introspection_encrypted_response_alg',
  'introspection_encrypted_response_enc',
  'revocation_endpoint_auth_method',
  'revocation_endpoint_auth_signing_alg',
  'spiffe_id',
  // UDAP
  'udap',
  'certifications',
]);

/** The metadata name without an RFC 7591 §2.2 language tag (`client_name#fr` → `client_name`). */
export function baseFieldName(key: string): string {
  const hash = key.indexOf('#');
  return hash === -1 ? key : key.slice(0, hash);
}

/** Response members that are credentials: never trimmed, never shown, never in `metadata`. */
export const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(['client_secret', 'registration_access_token']);

/** RFC 7592 §2.2: the update request MUST NOT include these (server-managed) fields. */
export const SERVER_MANAGED_FIELDS: ReadonlySet<string> = new Set([
  'registration_access_token',
  'registration_client_uri',
  'client_secret_expires_at',
  'client_id_issued_at',
]);

/** JWK members that hold private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** JWT registered claims: never treated as client metadata inside a software statement. */
export const JWT_REGISTERED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/** Plain-object check that excludes arrays and null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON.parse that drops prototype-polluting keys; undefined when the text is not JSON. */
export function parseJsonSafely(text: string): unknown {
  try {
    return parseJsonWithoutUnsafeKeys(text.replace(/^\uFEFF/, '').trim());
  } catch {
    return undefined;
  }
}
