import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { issuers } from '@/db/schema';
import { getAppOrThrow } from '@/lib/apps/queries';
import { findUdapCertificate } from '@/lib/apps/udap';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { looksLikeEpicRegistration } from '@/lib/oauth/registration';
import { validateRedirectUris } from '@/lib/redirect-uris';
import { validateScopeString } from '@/lib/smart';
import { buildRegistrationRequest, maskRequest } from './build-request';
import { hostedJwksUriFor } from './hosted-jwks';
import { registrationContext } from './context';
import { previewSchema, type PreviewInput } from './schemas';

/**
 * What would be sent, before anything is sent: the exact JSON (keys shown as placeholders until
 * they are generated), every adaptation to the issuer, and the findings on redirect URIs and scopes.
 */
export async function previewRegistration(actor: Actor, raw: PreviewInput) {
  assertCan(actor, 'registrations:write');
  const input = previewSchema.parse(raw);
  const [issuer] = await getDb().select().from(issuers).where(eq(issuers.id, input.issuerId)).limit(1);
  if (!issuer) throw new AppError('NOT_FOUND', 'That issuer does not exist.', { field: 'issuerId' });
  const app = await getAppOrThrow(actor, input.appId);
  const envProfile = app.profile.environments[input.environment];
  if (!envProfile) throw new AppError('INVALID', `The app has no "${input.environment}" environment.`, { field: 'environment' });
  const registrationEndpoint = issuer.endpoints.registration?.value ?? null;
  const epicMode = registrationEndpoint ? looksLikeEpicRegistration({ fhirBaseUrl: issuer.fhirBaseUrl, registrationEndpoint, capabilities: issuer.capabilities }) : false;
  const built = buildRegistrationRequest({
    issuer,
    profile: app.profile,
    environment: input.environment,
    overrides: input.overrides,
    // The same decision Register makes: a hospital that cannot fetch the hosted JWKS gets the key inline.
    jwksUri: epicMode ? null : hostedJwksUriFor(app.id, input.environment, registrationEndpoint),
    inlineJwks: { keys: [{ kid: '(generated when you register)', kty: input.overrides?.keyAlgorithm === 'RS384' || envProfile.keyAlgorithm === 'RS384' ? 'RSA' : 'EC' }] },
    epicMode,
  });
  const redirectUris = (built.metadata.redirect_uris as string[] | undefined) ?? [];
  const udapCertificate = epicMode ? null : await findUdapCertificate(app.id, input.environment);
  return {
    registrationEndpoint,
    mode: built.mode,
    authMethod: built.authMethod,
    keyAlgorithm: built.keyAlgorithm,
    request: maskRequest(built.metadata),
    adaptations: built.adaptations,
    needsInitialAccessToken: built.needsInitialAccessToken,
    redirectUriFindings: validateRedirectUris(redirectUris, { applicationType: envProfile.applicationType }),
    scopeFindings: validateScopeString(String(built.metadata.scope ?? ''), issuer.scopesSupported.length ? issuer.scopesSupported : undefined),
    issuerAuthMethods: issuer.tokenEndpointAuthMethodsSupported,
    appVersion: app.currentVersion,
    /** Sent back with Register, which refuses if the issuer or app row changed since this review. */
    reviewedVersions: (await registrationContext(issuer.id, app.id, { fresh: true })).versions,
    /** The app profile asks for a software statement signed with the app's key by default (never for Epic, which takes none). */
    signStatementByDefault: !epicMode && app.profile.softwareStatement.enabled,
    /** UDAP registration: whether the issuer publishes UDAP metadata, and the app's certificate for this environment. */
    udap: {
      advertised: issuer.documentsFound.includes('udap'),
      certificate: udapCertificate ? { subject: udapCertificate.subject, sanUri: udapCertificate.sanUris[0] ?? null, notAfter: udapCertificate.notAfter, fingerprintSha256: udapCertificate.fingerprintSha256 } : null,
    },
  };
}
