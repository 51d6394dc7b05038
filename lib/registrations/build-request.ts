import type { AppProfile, EnvironmentProfile, Issuer, TokenAuthMethod } from '@/db/schema';
import { AppError } from '@/lib/errors';
import { parseScopeString, unsupportedScopes } from '@/lib/smart';

export type Adaptation = { field: string; from: unknown; to: unknown; reason: string };

export type RegistrationOverrides = Partial<Pick<EnvironmentProfile, 'redirectUris' | 'grantTypes' | 'responseTypes' | 'tokenEndpointAuthMethod' | 'scope' | 'keyAlgorithm'>> & {
  clientName?: string;
};

export type BuiltRequest = {
  mode: 'standard' | 'epic';
  metadata: Record<string, unknown>;
  authMethod: TokenAuthMethod;
  keyAlgorithm: 'RS384' | 'ES384' | null;
  /** How the public key reaches the server for private_key_jwt. */
  keyDelivery: 'jwks_uri' | 'jwks' | null;
  adaptations: Adaptation[];
  /** The initial access token is required (Epic mode) or advertised as needed. */
  needsInitialAccessToken: boolean;
};

type IssuerView = Pick<
  Issuer,
  'endpoints' | 'tokenEndpointAuthMethodsSupported' | 'tokenEndpointAuthSigningAlgValuesSupported' | 'scopesSupported' | 'grantTypesSupported' | 'fhirBaseUrl' | 'capabilities'
>;

const AUTH_PREFERENCE: TokenAuthMethod[] = ['private_key_jwt', 'client_secret_basic', 'client_secret_post'];

/**
 * Builds the RFC 7591 request from an app profile for one issuer, adapting it to what the issuer
 * advertises and recording every adaptation so the person sees it before sending. Pure: the
 * caller supplies the JWKS URL and inline keys.
 */
export function buildRegistrationRequest(input: {
  issuer: IssuerView;
  profile: AppProfile;
  environment: string;
  overrides?: RegistrationOverrides;
  jwksUri: string | null;
  inlineJwks?: { keys: Array<Record<string, unknown>> } | null;
  epicMode?: boolean;
}): BuiltRequest {
  const env = input.profile.environments[input.environment];
  if (!env) throw new Error(`The app has no "${input.environment}" environment.`);
  const o = input.overrides ?? {};
  const adaptations: Adaptation[] = [];
  const supportedMethods = input.issuer.tokenEndpointAuthMethodsSupported;

  if (input.epicMode) {
    // Epic identifies the app by the client id it assigned (Epic's app orchard), not the vendor's software_id.
    if (!env.epicClientId) {
      throw new AppError(
        'INVALID',
        `This is an Epic registration endpoint, which needs the app's Epic client id as software_id: set the Epic client id of the "${input.environment}" environment in the app profile.`,
        { field: 'epicClientId' },
      );
    }
    return {
      mode: 'epic',
      metadata: { software_id: env.epicClientId, jwks: input.inlineJwks ?? { keys: [] } },
      authMethod: 'none',
      keyAlgorithm: o.keyAlgorithm ?? env.keyAlgorithm,
      keyDelivery: 'jwks',
      adaptations: [{ field: 'body', from: 'full client metadata', to: '{software_id, jwks}', reason: 'Epic registration accepts exactly software_id and jwks.' }],
      needsInitialAccessToken: true,
    };
  }

  let authMethod: TokenAuthMethod = o.tokenEndpointAuthMethod ?? env.tokenEndpointAuthMethod;
  if (supportedMethods.length > 0 && !supportedMethods.includes(authMethod)) {
    const fallback = authMethod === 'none' ? null : AUTH_PREFERENCE.find((m) => supportedMethods.includes(m));
    if (fallback) {
      adaptations.push({ field: 'token_endpoint_auth_method', from: authMethod, to: fallback, reason: `The issuer supports ${supportedMethods.join(', ')}.` });
      authMethod = fallback;
    }
  }

  let keyAlgorithm: 'RS384' | 'ES384' | null = null;
  let keyDelivery: BuiltRequest['keyDelivery'] = null;
  const grantTypes = o.grantTypes ?? env.grantTypes;
  const redirectUris = o.redirectUris ?? env.redirectUris;
  let responseTypes = o.responseTypes ?? env.responseTypes;
  // A backend-services client (no authorization_code or implicit grant) has no response types and
  // no redirect URIs. RFC 7591 §2 defaults an omitted response_types to ["code"], which servers
  // then refuse without a redirect URI: an empty list is sent instead.
  const usesRedirects = grantTypes.includes('authorization_code') || grantTypes.includes('implicit');
  if (!usesRedirects && responseTypes.length > 0) {
    adaptations.push({ field: 'response_types', from: responseTypes, to: [], reason: 'No authorization_code or implicit grant: a backend-services client has no response types (RFC 7591 would otherwise default to code).' });
    responseTypes = [];
  }
  const metadata: Record<string, unknown> = {
    client_name: o.clientName ?? input.profile.name,
    ...(usesRedirects || redirectUris.length > 0 ? { redirect_uris: redirectUris } : {}),
    grant_types: grantTypes,
    response_types: responseTypes,
    token_endpoint_auth_method: authMethod,
    software_id: input.profile.softwareId,
  };
  if (input.profile.softwareVersion) metadata.software_version = input.profile.softwareVersion;
  for (const [key, value] of [
    ['client_uri', input.profile.clientUri],
    ['logo_uri', input.profile.logoUri],
    ['tos_uri', input.profile.tosUri],
    ['policy_uri', input.profile.policyUri],
  ] as const) {
    if (value) metadata[key] = value;
  }
  if (input.profile.contacts.length) metadata.contacts = input.profile.contacts;
  if (env.applicationType) metadata.application_type = env.applicationType;

  let scope = (o.scope ?? env.scope).split(/\s+/).filter(Boolean);
  const supportedScopes = input.issuer.scopesSupported;
  if (supportedScopes.length > 0) {
    // Covered the SMART way, as the scope checker on the same screen judges it: a wildcard
    // (patient/*.rs), the v1 form of a v2 scope (.read = .rs) or a narrowing (?category=…) of a
    // supported scope is supported, not dropped.
    const unsupported = unsupportedScopes(parseScopeString(scope.join(' ')), supportedScopes);
    const dropped = scope.filter((s) => unsupported.has(s));
    if (dropped.length) {
      adaptations.push({ field: 'scope', from: dropped.join(' '), to: '(removed)', reason: 'Not in the issuer’s scopes_supported; the server would refuse or drop them.' });
      scope = scope.filter((s) => !unsupported.has(s));
    }
  }
  if (scope.length) metadata.scope = scope.join(' ');

  if (authMethod === 'private_key_jwt') {
    keyAlgorithm = o.keyAlgorithm ?? env.keyAlgorithm;
    const algs = input.issuer.tokenEndpointAuthSigningAlgValuesSupported;
    if (algs.length > 0 && !algs.includes(keyAlgorithm)) {
      const other = keyAlgorithm === 'RS384' ? 'ES384' : 'RS384';
      if (algs.includes(other)) {
        adaptations.push({ field: 'token_endpoint_auth_signing_alg', from: keyAlgorithm, to: other, reason: `The issuer signs with ${algs.join(', ')}.` });
        keyAlgorithm = other;
      }
    }
    metadata.token_endpoint_auth_signing_alg = keyAlgorithm;
    if (input.jwksUri) {
      metadata.jwks_uri = input.jwksUri;
      keyDelivery = 'jwks_uri';
    } else {
      metadata.jwks = input.inlineJwks ?? { keys: [] };
      keyDelivery = 'jwks';
      adaptations.push({ field: 'jwks', from: 'jwks_uri', to: 'inline jwks', reason: 'Registrar’s JWKS URL is not reachable by this server (not https), so the public key is sent inline.' });
    }
  }
  return { mode: 'standard', metadata, authMethod, keyAlgorithm, keyDelivery, adaptations, needsInitialAccessToken: false };
}

/** Every secret-bearing member masked, for the "review the exact JSON" step and for storage. */
export function maskRequest(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...metadata };
  if (typeof out.software_statement === 'string') out.software_statement = `${out.software_statement.slice(0, 16)}…(signed JWT)`;
  return out;
}
