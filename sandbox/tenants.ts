import type { ServerResponse } from 'node:http';
import { listenLoopback, pathOf } from './http';
import { capabilityStatement, smartConfiguration, SMART_V2_SCOPES } from './smart';

export type TenantsServer = {
  /** `${base}/t/${i}` is tenant i's issuer, for i in [0, count). */
  base: string;
  count: number;
  close(): Promise<void>;
};

type Docs = { openid: Buffer; smart: Buffer; metadata: Buffer };

const JSON_TYPE = 'application/json; charset=utf-8';
const FHIR_TYPE = 'application/fhir+json; charset=utf-8';

/**
 * Many issuers on one port, for benchmarks: static JSON built once per tenant (lazily) and served
 * over keep-alive connections. Not an authorization server: the endpoints it names do not exist.
 */
export async function startTenantsServer(opts: { port: number; count: number }): Promise<TenantsServer> {
  const listening = await listenLoopback(opts.port);
  const base = listening.origin;
  const cache = new Map<number, Docs>();

  const docsFor = (i: number): Docs => {
    let docs = cache.get(i);
    if (docs) return docs;
    const issuer = `${base}/t/${i}`;
    const fhirBase = `${issuer}/fhir`;
    const endpoints = {
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      registration_endpoint: `${issuer}/register`,
      jwks_uri: `${issuer}/jwks`,
    };
    docs = {
      openid: Buffer.from(
        JSON.stringify({
          issuer,
          ...endpoints,
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code', 'client_credentials'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt', 'none'],
          code_challenge_methods_supported: ['S256'],
          scopes_supported: ['openid', 'fhirUser', 'offline_access'],
        }),
      ),
      smart: Buffer.from(
        JSON.stringify(
          smartConfiguration({
            issuer,
            jwksUri: endpoints.jwks_uri,
            authorizationEndpoint: endpoints.authorization_endpoint,
            tokenEndpoint: endpoints.token_endpoint,
            registrationEndpoint: endpoints.registration_endpoint,
            grantTypes: ['authorization_code', 'client_credentials'],
            capabilities: ['launch-standalone', 'client-public', 'client-confidential-symmetric', 'sso-openid-connect', 'permission-v2'],
            scopes: ['openid', 'fhirUser', 'launch/patient', 'offline_access', ...SMART_V2_SCOPES.slice(0, 6)],
            authMethods: ['client_secret_basic', 'private_key_jwt', 'none'],
          }),
        ),
      ),
      metadata: Buffer.from(
        JSON.stringify(
          capabilityStatement({
            fhirBase,
            name: `Tenant ${i}`,
            software: 'Registrar sandbox (tenants)',
            oauth: {
              authorize: endpoints.authorization_endpoint,
              token: endpoints.token_endpoint,
              register: endpoints.registration_endpoint,
            },
          }),
        ),
      ),
    };
    cache.set(i, docs);
    return docs;
  };

  const send = (res: ServerResponse, status: number, type: string, body: Buffer) => {
    res.writeHead(status, { 'content-type': type, 'content-length': body.length, 'cache-control': 'max-age=60' });
    res.end(body);
  };
  const notFound = Buffer.from(JSON.stringify({ error: 'not_found' }));
  const index = Buffer.from(
    JSON.stringify({ issuers: Array.from({ length: opts.count }, (_, i) => `${base}/t/${i}`) }),
  );

  // /t/<i>/... and RFC 8414's /.well-known/oauth-authorization-server/t/<i>
  const tenantPath = /^\/t\/(0|[1-9]\d{0,6})(\/.*)?$/;
  const rfc8414 = /^\/\.well-known\/oauth-authorization-server\/t\/(0|[1-9]\d{0,6})$/;

  listening.setHandler((req, res) => {
    const path = pathOf(req);
    if (path === '/tenants.json') return send(res, 200, JSON_TYPE, index);
    const asMetadata = rfc8414.exec(path);
    if (asMetadata) {
      const i = Number(asMetadata[1]);
      return i < opts.count ? send(res, 200, JSON_TYPE, docsFor(i).openid) : send(res, 404, JSON_TYPE, notFound);
    }
    const match = tenantPath.exec(path);
    const i = match ? Number(match[1]) : -1;
    if (!match || i >= opts.count) return send(res, 404, JSON_TYPE, notFound);
    switch (match[2]) {
      case '/.well-known/openid-configuration':
        return send(res, 200, JSON_TYPE, docsFor(i).openid);
      case '/fhir/.well-known/smart-configuration':
        return send(res, 200, JSON_TYPE, docsFor(i).smart);
      case '/fhir/metadata':
        return send(res, 200, FHIR_TYPE, docsFor(i).metadata);
      default:
        return send(res, 404, JSON_TYPE, notFound);
    }
  });

  return { base, count: opts.count, close: () => listening.close() };
}
