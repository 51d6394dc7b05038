import 'server-only';

/**
 * OAuth 2.0 Dynamic Client Registration (RFC 7591) and management (RFC 7592) at hospitals'
 * authorization servers, plus the Epic, UDAP and private_key_jwt pieces around them. Pure
 * protocol: every call goes through safeFetch, nothing is stored; callers persist the results.
 */
export type {
  ClientMetadata,
  JsonWebKeyLike,
  RegistrationErrorInfo,
  RegistrationFetchInit,
  RegistrationResponse,
  RegistrationWarning,
  RegistrationWarningCode,
  SecretExpiry,
} from './types';
export { registerClient } from './register';
export { buildUpdateBody, deleteClientRegistration, readClientRegistration, updateClientRegistration } from './manage';
export { buildEpicRegistrationBody, looksLikeEpicRegistration } from './epic';
export { generateClientKeyPair, publicJwks, type ClientKeyAlg, type PublicJwk } from './keys';
export { requestClientCredentialsToken, signClientAssertion, type SigningAlg, type TokenEndpointAuth } from './client-auth';
export { buildUdapSoftwareStatement, decodeJwtUnverified, signSoftwareStatement } from './software-statement';
