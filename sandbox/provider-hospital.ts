import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, {
  errors,
  type ClientAuthMethod,
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { ADMIN_IAT_PATH, handleMintRequest, UseLimiter, type MintedToken, type MintOptions } from './admin';
import { listenLoopback, pathOf, sendJson, type Listening } from './http';
import { sandboxSigningKeys } from './keys';
import { createMemoryAdapterFactory } from './memory-adapter';
import { capabilityStatement, FHIR_JSON, notFoundOutcome, smartConfiguration } from './smart';
import type { HospitalInfo } from './types';

type SigningAlg = NonNullable<NonNullable<Configuration['enabledJWA']>['clientAuthSigningAlgValues']>[number];

export type MetadataCheck = (metadata: ClientMetadata) => void;

export type ProviderHospitalSpec = {
  key: 'general' | 'mercy';
  name: string;
  port: number;
  adminToken: string;
  log: (line: string) => void;
  /** Every scope the server knows; a registered `scope` must be a subset. */
  scopes: readonly string[];
  /** The scopes an access token for the FHIR API may carry. */
  resourceScopes: readonly string[];
  authMethods: readonly ClientAuthMethod[];
  clientAuthAlgs: readonly SigningAlg[];
  /** Adapter-backed initial access tokens, minted through the admin endpoint. */
  requireInitialAccessToken: boolean;
  /** Seconds until an issued client secret expires; 0 = never. */
  secretTtlSeconds: number;
  /**
   * RFC 7592 §2.2 lets a server issue a new client secret in answer to an update. oidc-provider
   * never does, so when this is set the sandbox does it for clients that have a secret.
   */
  issueSecretOnUpdate?: boolean;
  /** Extra registration rules; throw `errors.InvalidClientMetadata` to refuse. */
  checkMetadata: MetadataCheck;
  capabilities: readonly string[];
};

export type ProviderHospital = {
  info: HospitalInfo;
  mintInitialAccessToken?: (opts: Required<MintOptions>) => Promise<MintedToken>;
  close(): Promise<void>;
};

const MUTATING_ROUTES = new Set(['registration', 'client_update']);

/**
 * A hospital authorization server built on node-oidc-provider, with a FHIR base that publishes
 * SMART discovery documents, and (when registration needs one) an admin endpoint minting
 * initial access tokens.
 */
export async function startProviderHospital(spec: ProviderHospitalSpec): Promise<ProviderHospital> {
  const listening = await listenLoopback(spec.port);
  try {
    return await build(spec, listening);
  } catch (err) {
    await listening.close();
    throw err;
  }
}

async function build(spec: ProviderHospitalSpec, listening: Listening): Promise<ProviderHospital> {
  const { origin } = listening;
  const issuer = origin;
  const fhirBase = `${origin}/fhir`;
  const jwks = await sandboxSigningKeys();

  const configuration: Configuration = {
    adapter: createMemoryAdapterFactory(),
    jwks: { keys: jwks.keys.map((k) => ({ ...k })) } as Configuration['jwks'],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // The sandbox and its clients share one clock; the default 15 s tolerance would keep an
    // expired client secret working for 15 s more, which the expiry tests must not wait out.
    clockTolerance: 0,
    scopes: [...spec.scopes],
    claims: {
      openid: ['sub'],
      fhirUser: ['fhirUser'],
      profile: ['name', 'given_name', 'family_name'],
    },
    responseTypes: ['code'],
    clientAuthMethods: [...spec.authMethods],
    enabledJWA: { clientAuthSigningAlgValues: [...spec.clientAuthAlgs] },
    extraClientMetadata: {
      properties: ['software_id', 'software_version'],
      validator(ctx, key, value, metadata) {
        if (value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata(`${key} must be a string`);
        }
        // Runs once per listed property; the whole-metadata rules need to run once.
        if (key !== 'software_id' || !ctx || !MUTATING_ROUTES.has(ctx.oidc.route)) return;
        spec.checkMetadata(metadata);
        if (spec.issueSecretOnUpdate && ctx.oidc.route === 'client_update') issueNewSecret(metadata, spec.secretTtlSeconds);
        applySecretExpiry(metadata, spec.secretTtlSeconds);
      },
    },
    // oidc-provider pins an SSRF-guarding dispatcher that refuses loopback addresses; the sandbox's
    // clients publish their jwks_uri on 127.0.0.1, so it is dropped here (and only here).
    fetch: (input, init) => {
      const { dispatcher: _dispatcher, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
      return globalThis.fetch(input, rest);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      registration: {
        enabled: true,
        initialAccessToken: spec.requireInitialAccessToken,
        issueRegistrationAccessToken: true,
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      resourceIndicators: {
        enabled: true,
        // Without a resource, client_credentials would keep only OpenID scopes; the FHIR API is
        // the one resource server, so every token is for it unless asked otherwise.
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? fhirBase,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== fhirBase) throw new errors.InvalidTarget(`the only resource is ${fhirBase}`);
          return {
            scope: spec.resourceScopes.join(' '),
            audience: fhirBase,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      ClientCredentials: 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    clientBasedCORS: () => true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, fhirUser: `${fhirBase}/Patient/${sub}`, name: 'Sandbox Patient', given_name: 'Sandbox', family_name: 'Patient' }),
    }),
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(out.error)}</title><h1>${escapeHtml(out.error)}</h1><p>${escapeHtml(out.error_description ?? '')}</p>`;
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx: unknown, err: Error) => spec.log(`[${spec.key}] server_error: ${err.stack ?? err.message}`));

  provider.use(smartLaunchContext);

  const limiter = new UseLimiter();
  if (spec.requireInitialAccessToken) provider.use(initialAccessTokenUses(provider, limiter));

  const mint = async ({ expiresInSeconds, uses }: Required<MintOptions>): Promise<MintedToken> => {
    const iat = new provider.InitialAccessToken({ expiresIn: expiresInSeconds });
    const token = await iat.save();
    limiter.track(token, uses);
    return { token, expiresAt: Math.floor(Date.now() / 1000) + expiresInSeconds, uses };
  };

  const endpoints = {
    authorize: `${origin}/auth`,
    token: `${origin}/token`,
    register: `${origin}/reg`,
    introspect: `${origin}/token/introspection`,
    revoke: `${origin}/token/revocation`,
    jwks: `${origin}/jwks`,
    manage: `${origin}/sandbox/manage`,
  };
  const smartDoc = JSON.stringify(
    smartConfiguration({
      issuer,
      jwksUri: endpoints.jwks,
      authorizationEndpoint: endpoints.authorize,
      tokenEndpoint: endpoints.token,
      registrationEndpoint: endpoints.register,
      managementEndpoint: endpoints.manage,
      introspectionEndpoint: endpoints.introspect,
      revocationEndpoint: endpoints.revoke,
      grantTypes: ['authorization_code', 'client_credentials', 'refresh_token'],
      capabilities: spec.capabilities,
      scopes: spec.scopes,
      authMethods: spec.authMethods,
      signingAlgs: spec.authMethods.includes('private_key_jwt') ? spec.clientAuthAlgs : undefined,
    }),
  );
  const metadataDoc = JSON.stringify(
    capabilityStatement({
      fhirBase,
      name: spec.name,
      software: `Registrar sandbox (${spec.key})`,
      oauth: {
        authorize: endpoints.authorize,
        token: endpoints.token,
        register: endpoints.register,
        manage: endpoints.manage,
        introspect: endpoints.introspect,
        revoke: endpoints.revoke,
      },
    }),
  );

  const providerHandler = provider.callback();
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req);
    if (path === '/fhir/.well-known/smart-configuration') {
      sendRaw(res, 200, 'application/json; charset=utf-8', smartDoc);
    } else if (path === '/fhir/metadata') {
      sendRaw(res, 200, FHIR_JSON, metadataDoc);
    } else if (path === '/fhir' || path.startsWith('/fhir/')) {
      sendRaw(res, 404, FHIR_JSON, JSON.stringify(notFoundOutcome(path)));
    } else if (path === ADMIN_IAT_PATH) {
      if (!spec.requireInitialAccessToken) {
        sendJson(res, 404, { error: 'not_found', error_description: `${spec.name} has open registration; it takes no initial access token` });
      } else {
        await handleMintRequest(req, res, { adminToken: spec.adminToken, realm: issuer, mint });
      }
    } else if (path === '/sandbox/manage') {
      sendRaw(res, 200, 'text/html; charset=utf-8', `<!doctype html><title>${spec.name}</title><h1>${spec.name}</h1><p>Sandbox: there are no app authorizations to manage.</p>`);
    } else if (req.method === 'GET' && path.startsWith('/interaction/')) {
      await autoApprove(provider, req, res);
    } else {
      providerHandler(req, res);
    }
  };
  listening.setHandler((req, res) => {
    route(req, res).catch((err: unknown) => {
      spec.log(`[${spec.key}] ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'sandbox failure' });
      else res.destroy();
    });
  });

  return {
    info: {
      key: spec.key,
      name: spec.name,
      origin,
      issuer,
      fhirBase,
      registrationEndpoint: endpoints.register,
    },
    mintInitialAccessToken: spec.requireInitialAccessToken ? mint : undefined,
    close: () => listening.close(),
  };
}

/**
 * A new secret in place of the one the update carried over (oidc-provider copies the old secret
 * into the updated metadata before validation); its expiry restarts from now.
 */
function issueNewSecret(metadata: ClientMetadata, ttlSeconds: number): void {
  if (typeof metadata.client_secret !== 'string') return;
  metadata.client_secret = randomBytes(32).toString('base64url');
  metadata.client_secret_expires_at = ttlSeconds > 0 ? Math.floor(Date.now() / 1000) + ttlSeconds : 0;
}

/**
 * RFC 7591 §3: the secret's expiry is announced in `client_secret_expires_at`. oidc-provider
 * always writes 0 (never) and applies registration policies only to IAT-authorised requests,
 * so open registration sets the expiry here, in the one hook that may rewrite the metadata.
 */
function applySecretExpiry(metadata: ClientMetadata, ttlSeconds: number): void {
  if (ttlSeconds <= 0 || typeof metadata.client_secret !== 'string') return;
  if (metadata.client_secret_expires_at !== undefined && metadata.client_secret_expires_at !== 0) return;
  const issuedAt = typeof metadata.client_id_issued_at === 'number' ? metadata.client_id_issued_at : Math.floor(Date.now() / 1000);
  metadata.client_secret_expires_at = issuedAt + ttlSeconds;
}

/**
 * Use counting for initial access tokens, which oidc-provider does not have: a token is
 * destroyed once its last use succeeds, after which the provider answers 401 invalid_token.
 */
function initialAccessTokenUses(provider: Provider, limiter: UseLimiter) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    const header = ctx.get('authorization');
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (ctx.method !== 'POST' || ctx.path !== '/reg' || !token) {
      await next();
      return;
    }
    const state = limiter.reserve(token);
    if (state === 'spent') {
      // Only reachable while the request that spent the last use is in flight.
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer realm="${provider.issuer}", error="invalid_token", error_description="initial access token has no uses left"`);
      ctx.body = { error: 'invalid_token', error_description: 'initial access token has no uses left' };
      return;
    }
    try {
      await next();
    } finally {
      if (state === 'reserved') {
        if (ctx.status !== 201) {
          limiter.release(token);
        } else if (limiter.isExhausted(token)) {
          const iat = await provider.InitialAccessToken.find(token);
          await iat?.destroy();
          limiter.forget(token);
        }
      }
    }
  };
}

/** SMART App Launch §token response: a `launch/patient` grant names the patient in context. */
async function smartLaunchContext(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.oidc?.route !== 'token' || ctx.status !== 200) return;
  const body: unknown = ctx.body;
  if (typeof body !== 'object' || body === null) return;
  const { scope } = body as { scope?: unknown };
  if (typeof scope === 'string' && scope.split(' ').includes('launch/patient')) {
    ctx.body = { ...body, patient: SANDBOX_PATIENT };
  }
}

const SANDBOX_PATIENT = 'sandbox-patient';

/** A consenting patient for authorization-code demos: logs in as `sandbox-patient`, grants all. */
async function autoApprove(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: SANDBOX_PATIENT } }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id;
  if (typeof accountId !== 'string' || typeof clientId !== 'string') {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'no session' });
    return;
  }
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
  if (!grant) {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'grant not found' });
    return;
  }
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function sendRaw(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
