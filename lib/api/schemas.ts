// The API's own zod schemas: query strings, path parameters, headers, and the response bodies
// (documentation and contract tests). Request bodies reuse the domain's schemas as they are.
import { z } from 'zod';
import { AUDIT_OUTCOMES, REGISTRATION_STATUSES, ROLES, ROTATION_STATES, ROTATION_STRATEGIES, ROTATION_TRIGGERS, TOKEN_AUTH_METHODS } from '@/db/schema';
import { SORT_KEYS } from '@/lib/registrations/table';
import { PERMISSIONS } from '@/lib/auth/permissions';
import { REDIRECT_URI_MAX_CHARS, REGISTERED_URIS_MAX } from '@/lib/diagnostics/schemas';
import { registrationOverridesSchema } from '@/lib/registrations/schemas';

const uriChars = REDIRECT_URI_MAX_CHARS.toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// Inputs that are not domain schemas

export const idParamsSchema = z.object({ id: z.uuid('Not an id (a UUID).') });

const page = z.coerce.number().int().min(1).max(100_000).default(1).describe('1-based page number.');
const pageSize = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt).describe(`Items per page (1–${max}).`);
const text = (describe: string) => z.string().trim().min(1).max(200).optional().describe(describe);

export const paginationQuerySchema = z.object({ page, pageSize: pageSize(100, 25) });

export const issuerListQuerySchema = paginationQuerySchema.extend({
  healthSystemId: z.uuid().optional().describe('Only the issuers of this health system.'),
  environment: text('Only issuers of this environment (exact).'),
});

/** The registrations table's filters, strictly: an invalid value is a 400, not silently the default. */
export const registrationListQuerySchema = z.object({
  page,
  pageSize: z.coerce
    .number()
    .int()
    .refine((n) => [10, 25, 50, 100].includes(n), 'Use 10, 25, 50 or 100.')
    .default(25)
    .meta({ enum: [10, 25, 50, 100] })
    .describe('Items per page: 10, 25, 50 or 100.'),
  sort: z.enum(SORT_KEYS as [string, ...string[]]).default('createdAt'),
  dir: z.enum(['asc', 'desc']).default('desc'),
  q: text('Substring of the client id, health system, app or issuer (case-insensitive).'),
  healthSystemId: z.uuid().optional(),
  issuerId: z.uuid().optional(),
  appId: z.uuid().optional(),
  environment: text('The app environment registered (exact).'),
  status: z.enum(REGISTRATION_STATUSES).optional(),
  expiringWithinDays: z.coerce.number().int().min(0).max(3650).optional().describe('Secrets in use (not deleted, not replaced by a rotation) that expire within this many days (expired ones included).'),
  expiresFrom: z.iso.date().optional().describe('Secrets in use that expire on or after this day (UTC).'),
  expiresTo: z.iso.date().optional().describe('Secrets in use that expire before this day (UTC).'),
  hasFindings: z
    .enum(['true', 'false'])
    .optional()
    .describe('Registrations with (true) or without (false) redirect-URI findings or lost scopes.'),
});

export const auditQuerySchema = z.object({
  actor: text('Substring of the actor label (email or token label).'),
  action: text('Action prefix, e.g. `registration.` or `api_token.create`.'),
  target: text('A target id, or a target type (e.g. `registration`).'),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  from: z.iso.date().optional().describe('First day (UTC), inclusive.'),
  to: z.iso.date().optional().describe('Last day (UTC), inclusive.'),
  asOf: z.coerce.number().int().min(1).optional().describe('Page through a snapshot: only entries with an id up to this one. Pass the id of the first entry of page 1 with every later page, so entries written meanwhile do not shift the pages.'),
  page,
  pageSize: pageSize(500, 50),
});

export const idempotencyKeyHeaderSchema = z
  .string()
  .min(16, 'The Idempotency-Key header needs at least 16 characters (a UUID is fine).')
  .max(200, 'The Idempotency-Key header is too long (200 characters at most).')
  .regex(/^[\x21-\x7e]+$/, 'The Idempotency-Key header takes visible ASCII characters only.');

/** Either the redirect URI the app sends (with the registered ones, or a client id), or a whole authorization URL. */
export const redirectDiagnosisBodySchema = z
  .object({
    presented: z
      .string()
      .max(REDIRECT_URI_MAX_CHARS, `The presented redirect URI is too long (${uriChars} characters at most).`)
      .optional()
      .describe(`The redirect URI the app sends, exactly (${uriChars} characters at most).`),
    authorizationUrl: z.string().max(8000).optional().describe('The whole authorization request URL the app sent.'),
    registered: z
      .array(z.string().max(REDIRECT_URI_MAX_CHARS, `A registered redirect URI is too long (${uriChars} characters at most).`))
      .max(REGISTERED_URIS_MAX, `Give at most ${REGISTERED_URIS_MAX} registered redirect URIs.`)
      .optional()
      .describe(`The registered redirect URIs to compare with (a registration Registrar does not hold): at most ${REGISTERED_URIS_MAX}, each at most ${uriChars} characters.`),
    clientId: z.string().min(1).max(500).optional().describe('Compare with the redirect URIs of this client id’s registrations.'),
    issuer: z.string().max(2000).optional().describe('Narrow to the registrations at this issuer (issuer, FHIR base or input URL).'),
  })
  .strict()
  .superRefine((v, ctx) => {
    const modes = [v.authorizationUrl !== undefined, v.presented !== undefined && v.registered !== undefined, v.presented !== undefined && v.clientId !== undefined].filter(Boolean).length;
    if (v.authorizationUrl !== undefined && v.presented !== undefined) ctx.addIssue({ code: 'custom', path: ['presented'], message: 'Give either presented or authorizationUrl, not both.' });
    else if (modes === 0) ctx.addIssue({ code: 'custom', path: [], message: 'Give authorizationUrl, or presented with registered (a list) or with clientId.' });
    else if (v.registered !== undefined && v.clientId !== undefined) ctx.addIssue({ code: 'custom', path: ['registered'], message: 'Give either registered or clientId, not both.' });
  });

export const scopeDiagnosisBodySchema = z
  .object({
    requested: z.string().max(8000).describe('The scope string asked for (space separated).'),
    granted: z.string().max(8000).describe('The scope string the server granted or registered.'),
    supported: z.array(z.string().max(500)).max(2000).optional().describe('The server’s scopes_supported, to report requested scopes it does not offer.'),
  })
  .strict();

export const syncBodySchema = z
  .object({
    confirm: z.boolean().default(false).describe('false (default): only the differences; true: send them to the hospital (RFC 7592 update).'),
    appVersion: z.number().int().min(1).optional().describe('The app profile version reviewed; a newer one meanwhile is a 409.'),
    overrides: registrationOverridesSchema
      .optional()
      .describe(
        'Changes to the app profile to build the metadata with, replacing the ones the registration holds (as POST /registrations takes them; `{}`: none). Without it, the stored ones are used. With confirm=true, once the hospital has accepted the update (or already matched), the registration keeps them.',
      ),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Responses (documentation and contract tests; built by ./views.ts)

const isoDateTime = z.iso.datetime({ offset: true }).describe('ISO 8601, UTC');
const nullableDateTime = isoDateTime.nullable();
const json = z.record(z.string(), z.unknown());

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() });

const warningSchema = z.object({ code: z.string(), severity: z.enum(['info', 'warning', 'error']), message: z.string(), document: z.string().optional(), field: z.string().optional() });

export const meSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  role: z.enum(ROLES),
  permissions: z.array(z.enum(PERMISSIONS)).describe('What this token may do: its role’s permissions, narrowed by its subset.'),
  expiresAt: nullableDateTime,
});

export const healthSystemSummarySchema = z.object({
  id: z.uuid(),
  name: z.string(),
  tags: z.array(z.string()),
  issuerCount: z.number().int(),
  registrationCount: z.number().int(),
  needsAttention: z.boolean(),
  worstWarning: z.object({ code: z.string(), severity: z.string(), message: z.string() }).nullable(),
});

export const healthSystemSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  notes: z.string().nullable(),
  contacts: z.array(z.object({ name: z.string(), email: z.string().optional(), role: z.string().optional() })),
  tags: z.array(z.string()),
  createdAt: isoDateTime,
  issuers: z.array(
    z.object({
      id: z.uuid(),
      environment: z.string(),
      inputUrl: z.string(),
      issuer: z.string().nullable(),
      fhirBaseUrl: z.string().nullable(),
      canRegister: z.boolean(),
      warnings: z.array(warningSchema),
      lastDiscoveredAt: nullableDateTime,
      lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
      needsAttention: z.boolean(),
    }),
  ),
});

export const healthSystemCreatedSchema = z.object({ id: z.uuid(), name: z.string() });

const endpointSchema = z.object({
  url: z.string(),
  source: z.string().describe('The discovery document the value came from.'),
  conflicts: z.array(z.object({ url: z.string(), source: z.string() })).describe('Other values other documents gave; never chosen silently.'),
});

export const issuerSchema = z.object({
  id: z.uuid(),
  healthSystemId: z.uuid(),
  healthSystemName: z.string().optional(),
  environment: z.string(),
  inputUrl: z.string(),
  issuer: z.string().nullable().describe('The issuer identifier exactly as discovered; null when the documents name none.'),
  fhirBaseUrl: z.string().nullable(),
  epicClientId: z.string().nullable(),
  endpoints: z.record(z.string(), endpointSchema).describe('authorization, token, registration, management, jwks, introspection, revocation, userinfo: those found.'),
  capabilities: z.array(z.string()),
  scopesSupported: z.array(z.string()),
  grantTypesSupported: z.array(z.string()),
  responseTypesSupported: z.array(z.string()),
  tokenEndpointAuthMethodsSupported: z.array(z.string()),
  tokenEndpointAuthSigningAlgValuesSupported: z.array(z.string()),
  codeChallengeMethodsSupported: z.array(z.string()),
  documentsFound: z.array(z.string()),
  warnings: z.array(warningSchema),
  lastDiscoveredAt: nullableDateTime,
  lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
  needsAttention: z.boolean(),
  attentionReason: z.string().nullable(),
});

export const issuerSummarySchema = z.object({
  id: z.uuid(),
  healthSystemId: z.uuid(),
  healthSystemName: z.string(),
  environment: z.string(),
  inputUrl: z.string(),
  issuer: z.string().nullable(),
  canRegister: z.boolean().describe('The issuer has a registration endpoint (dynamic registration possible).'),
});

export const issuerRefreshSchema = z.object({
  issuerId: z.uuid(),
  outcome: z.enum(['ok', 'failed']),
  changes: z.number().int().describe('How many discovered fields changed since the last good discovery.'),
  needsAttention: z.boolean().describe('The registration or token endpoint changed: registrations may need a person.'),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});

const environmentProfileResponseSchema = z.object({
  redirectUris: z.array(z.string()),
  grantTypes: z.array(z.string()),
  responseTypes: z.array(z.string()),
  tokenEndpointAuthMethod: z.enum(TOKEN_AUTH_METHODS),
  scope: z.string(),
  keyAlgorithm: z.enum(['RS384', 'ES384']),
  applicationType: z.enum(['web', 'native']).optional(),
  epicClientId: z.string().nullable().optional(),
});

export const appProfileResponseSchema = z.object({
  name: z.string(),
  softwareId: z.string(),
  softwareVersion: z.string().nullable(),
  clientUri: z.string().nullable(),
  logoUri: z.string().nullable(),
  tosUri: z.string().nullable(),
  policyUri: z.string().nullable(),
  contacts: z.array(z.string()),
  environments: z.record(z.string(), environmentProfileResponseSchema),
  softwareStatement: z.object({ enabled: z.boolean() }),
});

export const appSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  softwareId: z.string(),
  currentVersion: z.number().int(),
  profile: appProfileResponseSchema,
});

export const appWrittenSchema = z.object({ id: z.uuid(), version: z.number().int() });

const expiryStateSchema = z.enum(['ok', 'expiring', 'expired', 'never', 'unknown', 'none']).describe('never: the server said 0; unknown: a secret without client_secret_expires_at; none: no secret.');

export const scopeDiffSchema = z.object({
  equivalent: z.boolean(),
  lost: z.array(z.string()).describe('SMART atoms requested but not granted.'),
  gained: z.array(z.string()).describe('SMART atoms granted but not requested.'),
  unrecognized: z.array(z.string()).describe('Raw strings that are not SMART grammar, from either side.'),
  unsupported: z.array(z.string()).describe('Requested scopes not in `supported` (only when supported was given).'),
});

/** A registration's overrides as stored: the registration request's `overrides`, with lists as the lists they become. */
const overridesViewSchema = registrationOverridesSchema
  .extend({ redirectUris: z.array(z.string()).optional(), grantTypes: z.array(z.string()).optional(), responseTypes: z.array(z.string()).optional() })
  .nullable();

export const registrationSchema = z.object({
  id: z.uuid(),
  clientId: z.string(),
  status: z.enum(REGISTRATION_STATUSES),
  authMethod: z.string(),
  managed: z.boolean().describe('RFC 7592 management is possible (the server returned a registration_client_uri and access token).'),
  environment: z.string(),
  issuerId: z.uuid(),
  issuerUrl: z.string().nullable(),
  healthSystemId: z.uuid(),
  healthSystemName: z.string(),
  appId: z.uuid(),
  appName: z.string(),
  appVersion: z.number().int(),
  secretExpiresAt: nullableDateTime.describe('When the client secret expires; null when it never expires, is unknown, or there is no secret (see expiryState).'),
  expiryState: expiryStateSchema,
  clientIdIssuedAt: nullableDateTime,
  createdAt: isoDateTime,
  createdBy: z.string().nullable(),
  operationId: z.uuid().nullable(),
  metadata: z.object({
    requested: json.describe('What Registrar sent (never a secret).'),
    registered: json.describe('What the server answered (secrets removed).'),
  }),
  overrides: overridesViewSchema.describe(
    'The changes to the app profile this registration was made with (or last synced with): re-registration and sync build from the profile with them. null: none.',
  ),
  scopeDiff: scopeDiffSchema,
  redirectUriFindings: z.array(z.object({ uri: z.string(), code: z.string(), severity: z.enum(['error', 'warning', 'info']), message: z.string(), fix: z.string() })),
  warnings: z.array(z.object({ code: z.string(), message: z.string(), field: z.string().optional() })),
});

export const registrationRowSchema = z.object({
  id: z.uuid(),
  clientId: z.string(),
  status: z.enum(REGISTRATION_STATUSES),
  authMethod: z.string(),
  managed: z.boolean(),
  environment: z.string(),
  issuerId: z.uuid(),
  issuerUrl: z.string().nullable(),
  healthSystemId: z.uuid(),
  healthSystemName: z.string(),
  appId: z.uuid(),
  appName: z.string(),
  secretExpiresAt: nullableDateTime,
  expiryState: expiryStateSchema,
  redirectFindingCount: z.number().int(),
  scopeLostCount: z.number().int(),
  lastRotatedAt: nullableDateTime,
  lastCheckedAt: nullableDateTime,
  createdAt: isoDateTime,
});

const driftRowSchema = z.object({ field: z.string(), registrar: z.string().nullable(), server: z.string().nullable(), differs: z.boolean() });
const registrationWarningSchema = z.object({ code: z.string(), message: z.string(), field: z.string().optional() });
const rotatedSchema = z.array(z.enum(['registration_access_token', 'client_secret'])).describe('Credentials the answer carried with new values, now stored as current.');

export const registrationRefreshSchema = z.object({
  registrationId: z.uuid(),
  lastCheckedAt: isoDateTime,
  drift: z.array(driftRowSchema).describe('Registrar’s record against the server’s, field by field (values as JSON text; null = absent).'),
  hasDrift: z.boolean(),
  rotated: rotatedSchema,
  warnings: z.array(registrationWarningSchema),
});

const updateResultSchema = z.object({
  registrationId: z.uuid(),
  changedFields: z.array(z.string()),
  warnings: z.array(registrationWarningSchema).describe('Where the server kept something other than what was sent.'),
  rotated: rotatedSchema,
  readFirst: z.boolean().describe('The registration was read at the hospital first (the stored server record was missing or stale).'),
});

export const registrationUpdatedSchema = z.object({ registration: registrationSchema, update: updateResultSchema });

export const registrationSyncSchema = z.object({
  registrationId: z.uuid(),
  appVersion: z.number().int().describe('The app profile version compared.'),
  registrationAppVersion: z.number().int().describe('The version the registration was made or last synced with.'),
  diff: z.array(z.object({ field: z.string(), server: z.string().nullable(), profile: z.string().nullable(), differs: z.boolean() })),
  changedFields: z.array(z.string()),
  applied: z.boolean(),
  update: updateResultSchema.nullable(),
  overrides: z
    .object({
      stored: overridesViewSchema.describe('The registration’s overrides before this call.'),
      requested: overridesViewSchema.describe('The `overrides` of the request (null: none given; the diff was built with the stored ones).'),
      changed: z.boolean().describe('The requested overrides differ from the stored ones. Applied (confirm=true), the registration now holds them.'),
    })
    .describe('The overrides the diff was built with.'),
});

export const registrationDeletedSchema = z.object({ registrationId: z.uuid(), deletedAt: isoDateTime });

export const rotationSchema = z.object({
  id: z.uuid(),
  registrationId: z.uuid(),
  strategy: z.enum(ROTATION_STRATEGIES).describe('rfc7592_update, re_registration, key_rollover or new_registration, as the rotation plan chose for this issuer.'),
  fallbackFrom: z.enum(ROTATION_STRATEGIES).nullable(),
  state: z
    .enum(ROTATION_STATES)
    .describe('current: done. waiting_for_initial_access_token / waiting_for_verification: a person is needed (in the UI). failed: see error. Other states continue on the job queue.'),
  trigger: z.enum(ROTATION_TRIGGERS),
  steps: z.array(z.string()),
  why: z.string(),
  attempt: z.number().int(),
  nextAttemptAt: nullableDateTime,
  stalledAt: nullableDateTime.describe('Set when the step was interrupted too many times (its process stopped each time; error code INTERRUPTED): the rotation no longer resumes on its own. Retry or abandon it on the registration page.'),
  error: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
  newRegistrationId: z.uuid().nullable().describe('The registration that replaces this one (re-registration, new registration).'),
  newClientId: z.string().nullable(),
  newExpiry: z.object({ kind: z.enum(['never', 'at', 'unknown', 'none']), at: z.string().nullable() }).nullable(),
  verifiedBy: z.string().nullable(),
  cleanupAt: nullableDateTime,
  cleanupDoneAt: nullableDateTime,
  cleanupError: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: isoDateTime,
  finishedAt: nullableDateTime,
  joined: z.boolean().describe('Another request had already started a rotation of this registration; this one joined it.'),
});

export const bulkRotationStartedSchema = z.object({
  bulkId: z.uuid().describe('Follow it at GET /rotations/bulk/{bulkId} (and on the registrations page).'),
  started: z.number().int().describe('Rotations this request started.'),
  joined: z.number().int().describe('Registrations that were already rotating: that rotation goes on, nothing is started twice.'),
  refused: z.array(z.object({ registrationId: z.uuid(), reason: z.string() })).describe('Registrations that cannot be rotated (unknown, deleted, public clients…), with the reason.'),
});

export const bulkRotationProgressSchema = z.object({
  bulkId: z.uuid(),
  startedAt: isoDateTime,
  startedBy: z.string().nullable(),
  counts: z.object({
    total: z.number().int(),
    current: z.number().int(),
    failed: z.number().int(),
    waiting: z.number().int().describe('Waiting for a person (an initial access token or a verification).'),
    retrying: z.number().int().describe('Backed off after a transient failure; the next attempt is more than a minute away.'),
    running: z.number().int(),
  }),
  nextRetryAt: isoDateTime.nullable().describe('When the soonest backed-off rotation tries again.'),
  done: z.boolean().describe('No rotation of this bulk is still running (some may wait for a person or retry later).'),
  rows: z.array(
    z.object({
      rotationId: z.uuid(),
      registrationId: z.uuid(),
      clientId: z.string(),
      newClientId: z.string().nullable().describe("A re-registration's new client, once the hospital registered it."),
      newRegistrationId: z.uuid().nullable(),
      hospital: z.string(),
      app: z.string(),
      environment: z.string(),
      strategy: z.enum(ROTATION_STRATEGIES),
      state: z.enum(ROTATION_STATES),
      error: z.string().nullable(),
      finishedAt: nullableDateTime,
    }),
  ),
  notStarted: z
    .array(z.object({ registrationId: z.string(), clientId: z.string().nullable(), reason: z.string() }))
    .describe('Selected registrations this bulk rotation did not start, with the reason.'),
  joined: z.number().int().describe('Selected registrations that were already rotating (their own rotation goes on).'),
});

export const credentialsSchema = z.object({
  registrationId: z.uuid(),
  clientId: z.string(),
  authMethod: z.string(),
  clientSecret: z.string().nullable().describe('The current client secret; null when the client has none (public, private_key_jwt, Epic).'),
  secretExpiresAt: nullableDateTime,
  expiryState: expiryStateSchema,
  key: z
    .object({ kid: z.string(), alg: z.string(), jwksUri: z.string().nullable().describe('Where the public key is published; null when it was registered inline (jwks).') })
    .nullable()
    .describe('For private_key_jwt: a reference to the signing key Registrar holds (never the key).'),
});

export const redirectDiagnosisSchema = z.object({
  match: z.boolean().describe('true only for an exact match or the loopback-IP port exception (RFC 8252 §7.3).'),
  verdict: z.enum(['exact-match', 'loopback-port-match', 'no-match', 'client-not-found']),
  presented: z.string().nullable(),
  candidate: z.string().nullable().describe('The closest registered redirect URI.'),
  registeredUris: z.array(z.string()),
  registration: z.object({ id: z.uuid(), clientId: z.string(), environment: z.string(), status: z.string(), issuerId: z.uuid(), issuerUrl: z.string().nullable(), healthSystemName: z.string() }).nullable(),
  findings: z.array(z.object({ code: z.string(), severity: z.enum(['error', 'warning', 'info']), message: z.string(), fix: z.string().optional() })),
});

export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: isoDateTime,
  actorType: z.string(),
  actorLabel: z.string().nullable(),
  role: z.string().nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  requestId: z.string().nullable(),
  details: json.nullable(),
});
