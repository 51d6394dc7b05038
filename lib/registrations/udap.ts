import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { issuers, type AppProfile, type Issuer } from '@/db/schema';
import { getAppOrThrow } from '@/lib/apps/queries';
import { findUdapCertificate, readUdapSigningMaterial, type UdapCertificateSummary } from '@/lib/apps/udap';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { buildUdapSoftwareStatement, decodeJwtUnverified, looksLikeEpicRegistration } from '@/lib/oauth/registration';
import { buildRegistrationRequest, type Adaptation, type RegistrationOverrides } from './build-request';
import { previewSchema, type PreviewInput } from './schemas';

/** Members that UDAP carries differently (the key travels as x5c in every signed JWT, not as a JWKS). */
const NOT_IN_UDAP_STATEMENT = ['jwks', 'jwks_uri', 'token_endpoint_auth_signing_alg'] as const;

export type UdapRegistration = {
  /** The request body: {software_statement, udap: "1"} (the statement is a signed JWT). */
  body: { software_statement: string; udap: '1' };
  /** What to store as the request: the statement's metadata claims, the statement masked. */
  requested: Record<string, unknown>;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  appKeyId: string;
  adaptations: Adaptation[];
};

/** The client metadata a UDAP statement carries for this app, issuer and environment (HL7 UDAP Security §3.1: private_key_jwt). */
export function udapMetadata(input: { issuer: Pick<Issuer, 'endpoints' | 'tokenEndpointAuthMethodsSupported' | 'tokenEndpointAuthSigningAlgValuesSupported' | 'scopesSupported' | 'grantTypesSupported' | 'fhirBaseUrl' | 'capabilities'>; profile: AppProfile; environment: string; overrides?: RegistrationOverrides }) {
  const built = buildRegistrationRequest({
    // UDAP authenticates with the certificate's key: private_key_jwt whatever the issuer lists for plain RFC 7591.
    issuer: { ...input.issuer, tokenEndpointAuthMethodsSupported: [], tokenEndpointAuthSigningAlgValuesSupported: [] },
    profile: input.profile,
    environment: input.environment,
    overrides: { ...input.overrides, tokenEndpointAuthMethod: 'private_key_jwt' },
    jwksUri: null,
    inlineJwks: null,
  });
  const metadata = { ...built.metadata };
  for (const member of NOT_IN_UDAP_STATEMENT) delete metadata[member];
  const adaptations: Adaptation[] = [
    ...built.adaptations.filter((a) => a.field !== 'jwks' && a.field !== 'token_endpoint_auth_signing_alg'),
    { field: 'body', from: 'client metadata as JSON', to: '{software_statement, udap: "1"}', reason: 'UDAP: the metadata travels as claims of a statement signed with the app’s client certificate (x5c).' },
  ];
  const grants = Array.isArray(metadata.grant_types) ? (metadata.grant_types as string[]) : [];
  if (!grants.includes('authorization_code')) {
    // HL7 UDAP Security §3.1: redirect_uris and response_types only with the authorization_code grant.
    for (const member of ['redirect_uris', 'response_types'] as const) {
      const value = metadata[member];
      if (value === undefined) continue;
      if (!Array.isArray(value) || value.length > 0) adaptations.push({ field: member, from: value, to: '(omitted)', reason: 'UDAP: only sent with the authorization_code grant.' });
      delete metadata[member];
    }
  }
  const chosen = input.overrides?.tokenEndpointAuthMethod ?? input.profile.environments[input.environment]?.tokenEndpointAuthMethod;
  if (chosen && chosen !== 'private_key_jwt') {
    adaptations.unshift({ field: 'token_endpoint_auth_method', from: chosen, to: 'private_key_jwt', reason: 'UDAP clients authenticate with their certificate’s key.' });
  }
  return { metadata, adaptations };
}

/**
 * Builds and signs the UDAP registration for an app (HL7 UDAP Security §3.1): a fresh statement
 * (iss = sub = the certificate's URI SAN, aud = the registration endpoint, exp = iat + 300, unique
 * jti, x5c leaf first) wrapped as {software_statement, udap: "1"}.
 */
export async function buildUdapRegistration(input: {
  appId: string;
  profile: AppProfile;
  environment: string;
  issuer: Issuer;
  registrationEndpoint: string;
  overrides?: RegistrationOverrides;
}): Promise<UdapRegistration> {
  if (looksLikeEpicRegistration({ fhirBaseUrl: input.issuer.fhirBaseUrl, registrationEndpoint: input.registrationEndpoint, capabilities: input.issuer.capabilities })) {
    throw new AppError('INVALID', 'This is an Epic registration endpoint: Epic accepts {software_id, jwks} only, not a UDAP statement.', { field: 'softwareStatement' });
  }
  const material = await readUdapSigningMaterial(input.appId, input.environment);
  if (!material) {
    throw new AppError('INVALID', `The app has no UDAP certificate for the "${input.environment}" environment: upload the certificate chain and key on the app’s page first.`, {
      field: 'softwareStatement',
    });
  }
  const { metadata, adaptations } = udapMetadata(input);
  const built = await buildUdapSoftwareStatement({
    certificateChainPem: material.certificateChainPem,
    privateKeyPkcs8Pem: material.privateKeyPkcs8Pem,
    alg: material.alg,
    registrationEndpoint: input.registrationEndpoint,
    metadata,
  });
  const { header } = decodeJwtUnverified(built.jwt);
  return {
    body: built.body,
    requested: { ...metadata, token_endpoint_auth_method: built.claims.token_endpoint_auth_method, udap: '1', software_statement: `${built.jwt.slice(0, 16)}…(signed JWT)` },
    header,
    claims: built.claims,
    appKeyId: material.appKeyId,
    adaptations,
  };
}

export type UdapPreview = {
  registrationEndpoint: string;
  /** The issuer published UDAP metadata (`/.well-known/udap`). */
  advertised: boolean;
  certificate: UdapCertificateSummary;
  /** The decoded statement: protected header (alg, x5c) and claims. The signature is not shown. */
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  body: { software_statement: string; udap: '1' };
  adaptations: Adaptation[];
};

/**
 * What a UDAP registration would send, decoded, before anything is sent. The statement is really
 * built and signed (so a key or certificate problem shows here), then only decoded parts return;
 * Register signs a new one (new iat, exp, jti).
 */
export async function previewUdapStatement(actor: Actor, raw: PreviewInput): Promise<UdapPreview> {
  assertCan(actor, 'registrations:write');
  const input = previewSchema.parse(raw);
  const [issuer] = await getDb().select().from(issuers).where(eq(issuers.id, input.issuerId)).limit(1);
  if (!issuer) throw new AppError('NOT_FOUND', 'That issuer does not exist.', { field: 'issuerId' });
  const registrationEndpoint = issuer.endpoints.registration?.value;
  if (!registrationEndpoint) throw new AppError('INVALID', 'This issuer has no registration endpoint.', { field: 'issuerId' });
  const app = await getAppOrThrow(actor, input.appId);
  if (!app.profile.environments[input.environment]) throw new AppError('INVALID', `The app has no "${input.environment}" environment.`, { field: 'environment' });
  const certificate = await findUdapCertificate(app.id, input.environment);
  if (!certificate) {
    throw new AppError('INVALID', `The app has no UDAP certificate for the "${input.environment}" environment: upload the certificate chain and key on the app’s page first.`, {
      field: 'softwareStatement',
    });
  }
  const built = await buildUdapRegistration({ appId: app.id, profile: app.profile, environment: input.environment, issuer, registrationEndpoint, overrides: input.overrides });
  return {
    registrationEndpoint,
    advertised: issuer.documentsFound.includes('udap'),
    certificate,
    header: built.header,
    claims: built.claims,
    body: { software_statement: '(the signed statement: header and claims above, signature by the certificate’s key)', udap: '1' },
    adaptations: built.adaptations,
  };
}
