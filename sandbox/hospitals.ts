import { errors, type ClientMetadata } from 'oidc-provider';
import { startProviderHospital, type ProviderHospital } from './provider-hospital';
import { isSmartV1Scope, LAUNCH_AND_IDENTITY_SCOPES, SMART_V1_SCOPES, SMART_V2_SCOPES } from './smart';

type Common = { port: number; adminToken: string; log: (line: string) => void };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

function redirectUris(metadata: ClientMetadata): string[] {
  const uris: unknown = metadata.redirect_uris;
  if (uris === undefined) return [];
  if (!Array.isArray(uris) || !uris.every((u): u is string => typeof u === 'string')) {
    throw new errors.InvalidClientMetadata('redirect_uris must be an array of strings');
  }
  return uris;
}

/**
 * General Hospital: open registration, RFC 7592 management, secrets that expire, SMART v1 and v2.
 * Redirect URIs: https anywhere, http only on loopback (RFC 8252 §7.3).
 */
export function startGeneralHospital(opts: Common & { secretTtlSeconds: number; issueSecretOnUpdate?: boolean }): Promise<ProviderHospital> {
  return startProviderHospital({
    key: 'general',
    name: 'General Hospital',
    ...opts,
    scopes: [...LAUNCH_AND_IDENTITY_SCOPES, ...SMART_V1_SCOPES, ...SMART_V2_SCOPES],
    resourceScopes: ['launch', 'launch/patient', 'launch/encounter', 'online_access', ...SMART_V1_SCOPES, ...SMART_V2_SCOPES],
    authMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientAuthAlgs: ['RS256', 'RS384', 'ES256', 'ES384', 'PS256'],
    requireInitialAccessToken: false,
    secretTtlSeconds: opts.secretTtlSeconds,
    issueSecretOnUpdate: opts.issueSecretOnUpdate ?? false,
    capabilities: [
      'launch-ehr',
      'launch-standalone',
      'authorize-post',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'sso-openid-connect',
      'permission-offline',
      'permission-online',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
    ],
    checkMetadata(metadata) {
      if (metadata.application_type === 'native') return; // the provider applies RFC 8252 itself
      for (const uri of redirectUris(metadata)) {
        const parsed = URL.parse(uri);
        if (parsed?.protocol === 'http:' && !LOOPBACK_HOSTS.has(parsed.hostname) && parsed.hostname !== 'localhost') {
          throw new errors.InvalidClientMetadata(`redirect_uris must use https, or http on a loopback address only: ${uri}`);
        }
      }
    },
  });
}

/** Hosts whose redirect URIs Mercy accepts: an explicit list, no wildcards. */
export const MERCY_TRUSTED_REDIRECT_HOSTS = ['app.example.com', 'registrar.example.com'] as const;

/**
 * Mercy Health: registration needs an initial access token; redirect URIs only on trusted hosts;
 * SMART v2 scopes only; private_key_jwt with RS384/ES384 (inline jwks or a loopback jwks_uri).
 */
export function startMercyHealth(opts: Common): Promise<ProviderHospital> {
  const trusted = new Set<string>(MERCY_TRUSTED_REDIRECT_HOSTS);
  return startProviderHospital({
    key: 'mercy',
    name: 'Mercy Health',
    ...opts,
    scopes: [...LAUNCH_AND_IDENTITY_SCOPES, ...SMART_V2_SCOPES],
    resourceScopes: ['launch', 'launch/patient', 'launch/encounter', 'online_access', ...SMART_V2_SCOPES],
    authMethods: ['private_key_jwt', 'client_secret_basic', 'none'],
    clientAuthAlgs: ['RS384', 'ES384'],
    requireInitialAccessToken: true,
    secretTtlSeconds: 0,
    capabilities: [
      'launch-ehr',
      'launch-standalone',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'sso-openid-connect',
      'permission-offline',
      'permission-patient',
      'permission-user',
      'permission-v2',
    ],
    checkMetadata(metadata) {
      for (const uri of redirectUris(metadata)) {
        const parsed = URL.parse(uri);
        const ok =
          parsed !== null &&
          ((parsed.protocol === 'https:' && trusted.has(parsed.hostname)) ||
            (parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname)));
        if (!ok) {
          // A description starting with "redirect_uris" makes oidc-provider answer invalid_redirect_uri.
          throw new errors.InvalidClientMetadata(
            `redirect_uris: ${uri} is not on Mercy Health's trusted list (https://${[...trusted].join(', https://')}, http://127.0.0.1, http://[::1])`,
          );
        }
      }
      if (typeof metadata.scope === 'string') {
        const v1 = metadata.scope.split(' ').filter(isSmartV1Scope);
        if (v1.length > 0) {
          throw new errors.InvalidClientMetadata(
            `scope ${v1.join(' ')} uses SMART v1 syntax; Mercy Health accepts SMART v2 scopes only (e.g. patient/*.rs)`,
          );
        }
      }
    },
  });
}
