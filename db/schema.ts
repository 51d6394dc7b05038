import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const ROLES = ['admin', 'ops', 'manager', 'support'] as const;
export type Role = (typeof ROLES)[number];

/** The onboarding form's changes to an app profile for one registration (lib/registrations/build-request RegistrationOverrides). */
export type RegistrationOverridesRecord = {
  redirectUris?: string[];
  grantTypes?: string[];
  responseTypes?: string[];
  tokenEndpointAuthMethod?: string;
  scope?: string;
  keyAlgorithm?: string;
  clientName?: string;
};

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Stored lower-cased; sign-in compares lower-cased input. */
    email: text('email').notNull(),
    name: text('name'),
    role: text('role', { enum: ROLES }).notNull(),
    /** scrypt hash in PHC-like form; null for SSO-only users. */
    passwordHash: text('password_hash'),
    isActive: boolean('is_active').notNull().default(true),
    deactivatedAt: timestamp('deactivated_at', { withTimezone: true }),
    lastSignInAt: timestamp('last_sign_in_at', { withTimezone: true }),
    /** Sessions signed in before this (a password reset, a deactivation or reactivation) no longer count. */
    sessionsValidAfter: timestamp('sessions_valid_after', { withTimezone: true }),
    /**
     * Raised by every change that ends the user's sessions (a password reset, a deactivation, a
     * reactivation). A session carries the epoch read with the password hash (or the SSO user) it
     * signed in with and counts only while it is still the user's: a sign-in that read the old
     * hash just before a reset commits gets the old epoch, and ends with it (a time comparison
     * cannot tell which came first).
     */
    sessionEpoch: integer('session_epoch').notNull().default(0),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('users_email_key').on(t.email),
    check('users_role_check', sql`${t.role} in ('admin', 'ops', 'manager', 'support')`),
    check('users_email_lower_check', sql`${t.email} = lower(${t.email})`),
  ],
);

/** SSO identities linked to local users (next-auth's "account"). */
export const accounts = pgTable(
  'accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    providerAccountId: text('provider_account_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('accounts_provider_account_key').on(t.provider, t.providerAccountId)],
);

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export const ACTOR_TYPES = ['user', 'api_token', 'system', 'anonymous'] as const;

/** Append-only: a trigger in the migrations refuses UPDATE and DELETE. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorType: text('actor_type', { enum: ACTOR_TYPES }).notNull(),
    actorId: text('actor_id'),
    actorLabel: text('actor_label'),
    role: text('role'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    outcome: text('outcome', { enum: AUDIT_OUTCOMES }).notNull(),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    index('audit_log_actor_idx').on(t.actorId, t.at),
    index('audit_log_target_idx').on(t.targetType, t.targetId, t.at),
  ],
);

/** Failed sign-ins per key (email or address) inside a sliding window. */
export const signInThrottle = pgTable('sign_in_throttle', {
  key: text('key').primaryKey(),
  failures: integer('failures').notNull().default(0),
  windowStartedAt: timestamp('window_started_at', { withTimezone: true }).notNull().defaultNow(),
});

/** One-time links that let the first admin be created on an empty installation. */
export const setupTokens = pgTable('setup_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Admin-managed outbound allowlist (merged with REGISTRAR_OUTBOUND_ALLOWLIST). */
export const outboundAllowlist = pgTable('outbound_allowlist', {
  id: uuid('id').primaryKey().defaultRandom(),
  entry: text('entry').notNull().unique(),
  note: text('note'),
  createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Small key/value settings an admin changes at run time. */
export const appSettings = pgTable('app_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type User = typeof users.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Health systems and their authorization servers (issuers)

export const ISSUER_ENVIRONMENTS = ['production', 'non-production', 'sandbox'] as const;

export const healthSystems = pgTable(
  'health_systems',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    notes: text('notes'),
    contacts: jsonb('contacts').$type<Array<{ name: string; email?: string; role?: string }>>().notNull().default([]),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [uniqueIndex('health_systems_name_key').on(sql`lower(${t.name})`)],
);

export type StoredEndpoint = { value: string; source: string; conflicts: Array<{ value: string; source: string }> };
export type StoredWarning = { code: string; severity: 'info' | 'warning' | 'error'; message: string; document?: string; field?: string };

export const issuers = pgTable(
  'issuers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    healthSystemId: uuid('health_system_id')
      .notNull()
      .references(() => healthSystems.id, { onDelete: 'restrict' }),
    /** production, non-production, sandbox, or a user-defined name. */
    environment: text('environment').notNull(),
    /** What the user entered (issuer or FHIR base URL), trimmed, otherwise exact. */
    inputUrl: text('input_url').notNull(),
    /** The issuer identifier exactly as discovered (byte for byte). */
    issuerUrl: text('issuer_url'),
    fhirBaseUrl: text('fhir_base_url'),
    /** Sent as Epic-Client-ID during discovery so Epic reveals its registration endpoint. */
    epicClientId: text('epic_client_id'),
    endpoints: jsonb('endpoints').$type<Record<string, StoredEndpoint>>().notNull().default({}),
    scopesSupported: text('scopes_supported').array().notNull().default(sql`'{}'::text[]`),
    grantTypesSupported: text('grant_types_supported').array().notNull().default(sql`'{}'::text[]`),
    responseTypesSupported: text('response_types_supported').array().notNull().default(sql`'{}'::text[]`),
    tokenEndpointAuthMethodsSupported: text('token_endpoint_auth_methods_supported').array().notNull().default(sql`'{}'::text[]`),
    tokenEndpointAuthSigningAlgValuesSupported: text('token_endpoint_auth_signing_alg_values_supported').array().notNull().default(sql`'{}'::text[]`),
    codeChallengeMethodsSupported: text('code_challenge_methods_supported').array().notNull().default(sql`'{}'::text[]`),
    capabilities: text('capabilities').array().notNull().default(sql`'{}'::text[]`),
    documentsFound: text('documents_found').array().notNull().default(sql`'{}'::text[]`),
    warnings: jsonb('warnings').$type<StoredWarning[]>().notNull().default([]),
    lastDiscoveredAt: timestamp('last_discovered_at', { withTimezone: true }),
    lastError: jsonb('last_error').$type<{ code: string; message: string; at: string } | null>(),
    /** Set when a refresh changed the registration or token endpoint; cleared by a person. */
    needsAttention: boolean('needs_attention').notNull().default(false),
    attentionReason: text('attention_reason'),
    /**
     * The version of what a registration request is built from: a trigger (migration 0022) adds
     * one whenever an UPDATE changes a column a request can depend on, and only then. A refresh
     * rewrites the row every time (its timestamps); one that found the same metadata must not
     * void the review someone is about to register from (see lib/registrations/context.ts).
     */
    metadataVersion: integer('metadata_version').notNull().default(1),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('issuers_input_url_key').on(t.inputUrl),
    uniqueIndex('issuers_issuer_url_key').on(t.issuerUrl),
    index('issuers_health_system_idx').on(t.healthSystemId),
  ],
);

export const DISCOVERY_TRIGGERS = ['create', 'manual', 'refresh-all', 'schedule'] as const;

/** Every discovery run, with the full result (raw documents included) and what changed. */
export const discoveryRuns = pgTable(
  'discovery_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    issuerId: uuid('issuer_id')
      .notNull()
      .references(() => issuers.id, { onDelete: 'cascade' }),
    trigger: text('trigger', { enum: DISCOVERY_TRIGGERS }).notNull(),
    outcome: text('outcome', { enum: ['ok', 'failed'] }).notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }).notNull().defaultNow(),
    result: jsonb('result').$type<Record<string, unknown>>().notNull(),
    changes: jsonb('changes').$type<Array<{ field: string; before: unknown; after: unknown; attention: boolean }>>().notNull().default([]),
    needsAttention: boolean('needs_attention').notNull().default(false),
  },
  (t) => [index('discovery_runs_issuer_idx').on(t.issuerId, t.finishedAt)],
);

/** Long-running bulk operations (refresh all, later bulk rotation) and their progress. */
export const bulkOperations = pgTable(
  'bulk_operations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    status: text('status', { enum: ['queued', 'running', 'done', 'failed'] }).notNull().default('queued'),
    total: integer('total').notNull().default(0),
    succeeded: integer('succeeded').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Bumped by every step of progress: an operation whose process died stops moving (see STALE_BULK_OPERATION_MS). */
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  // One running operation of a kind at a time: a second "refresh all" joins the first.
  (t) => [uniqueIndex('bulk_operations_one_active_key').on(t.kind).where(sql`${t.status} in ('queued', 'running')`)],
);

export type HealthSystem = typeof healthSystems.$inferSelect;
export type Issuer = typeof issuers.$inferSelect;
export type DiscoveryRun = typeof discoveryRuns.$inferSelect;

// ---------------------------------------------------------------------------------------------
// The credential vault's storage: every secret is an envelope (see lib/credentials/vault.ts)

/** An encrypted value: a fresh AES-256-GCM data key per value, wrapped by the key-encryption key. */
export type Envelope = {
  v: 1;
  /** Key-encryption key id and version used to wrap the data key. */
  kid: string;
  kv: number;
  /** Wrapped data key, and the value encrypted under it (base64url); `aad` is NOT stored: the row supplies it. */
  wk: string;
  wiv: string;
  wtag: string;
  iv: string;
  tag: string;
  ct: string;
};

export const CREDENTIAL_KINDS = ['client_secret', 'registration_access_token', 'private_key', 'response_body', 'initial_access_token', 'webhook_url'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];
/** `settings`: Registrar's own settings (the notification webhook URL), owner id SETTINGS_CREDENTIAL_OWNER. */
export const CREDENTIAL_OWNERS = ['registration', 'app_key', 'operation', 'settings'] as const;
/** The owner id of settings-owned credentials: the table keys every credential by a UUID owner. */
export const SETTINGS_CREDENTIAL_OWNER = '00000000-0000-4000-8000-000000000000';

export const credentials = pgTable(
  'credentials',
  {
    /** Generated by the application before encryption: it is part of the additional authenticated data. */
    id: uuid('id').primaryKey(),
    ownerType: text('owner_type', { enum: CREDENTIAL_OWNERS }).notNull(),
    ownerId: uuid('owner_id').notNull(),
    kind: text('kind', { enum: CREDENTIAL_KINDS }).notNull(),
    state: text('state', { enum: ['current', 'previous', 'retired'] }).notNull().default('current'),
    version: integer('version').notNull().default(1),
    /** Keyed hash (HMAC) prefix for display and comparison; never the value. */
    fingerprint: text('fingerprint').notNull(),
    envelope: jsonb('envelope').$type<Envelope>().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
  },
  (t) => [
    index('credentials_owner_idx').on(t.ownerType, t.ownerId, t.kind),
    // One current credential of each kind per owner.
    uniqueIndex('credentials_one_current_key').on(t.ownerType, t.ownerId, t.kind).where(sql`${t.state} = 'current'`),
    // No index on the envelope's key id: keys:rotate walks the table by id and counts with
    // `is distinct from`, which no btree serves (EXPLAIN over 200,000 rows), and every credential
    // write paid for one.
  ],
);

export type Credential = typeof credentials.$inferSelect;

// ---------------------------------------------------------------------------------------------
// App profiles (the vendor's applications), versioned

export const TOKEN_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type TokenAuthMethod = (typeof TOKEN_AUTH_METHODS)[number];

export type EnvironmentProfile = {
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  tokenEndpointAuthMethod: TokenAuthMethod;
  scope: string;
  keyAlgorithm: 'RS384' | 'ES384';
  applicationType?: 'web' | 'native';
  /** Epic's per-app client ids (non-production and production), when this is an Epic app. */
  epicClientId?: string | null;
};

export type AppProfile = {
  name: string;
  softwareId: string;
  softwareVersion: string | null;
  clientUri: string | null;
  logoUri: string | null;
  tosUri: string | null;
  policyUri: string | null;
  contacts: string[];
  environments: Record<string, EnvironmentProfile>;
  /** Sign an RFC 7591 software statement with the app's statement key for issuers that want one. */
  softwareStatement: { enabled: boolean };
};

export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    softwareId: text('software_id').notNull(),
    currentVersion: integer('current_version').notNull().default(1),
    ...timestamps,
  },
  (t) => [uniqueIndex('apps_software_id_key').on(t.softwareId), uniqueIndex('apps_name_key').on(sql`lower(${t.name})`)],
);

/** Immutable snapshots: every save is a new version; registrations record the version they used. */
export const appVersions = pgTable(
  'app_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    profile: jsonb('profile').$type<AppProfile>().notNull(),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('app_versions_app_version_key').on(t.appId, t.version)],
);

/** Signing keys Registrar holds for an app: private_key_jwt per environment, statement signing. */
export const appKeys = pgTable(
  'app_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    environment: text('environment').notNull(),
    /** `udap`: the key of the app's UDAP client certificate (app_certificates), uploaded, never generated. */
    purpose: text('purpose', { enum: ['client_auth', 'software_statement', 'udap'] }).notNull(),
    kid: text('kid').notNull(),
    alg: text('alg').notNull(),
    publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
    /** Published at /api/jwks while active or next; retired keys disappear from the JWKS. */
    state: text('state', { enum: ['active', 'next', 'retired'] }).notNull().default('active'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('app_keys_kid_key').on(t.appId, t.kid),
    index('app_keys_lookup_idx').on(t.appId, t.environment, t.purpose, t.state),
  ],
);

// ---------------------------------------------------------------------------------------------
// Registrations and the operations that create them

export const REGISTRATION_STATUSES = ['active', 'needs_attention', 'management_lost', 'deleted'] as const;

export const registrations = pgTable(
  'registrations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    issuerId: uuid('issuer_id')
      .notNull()
      .references(() => issuers.id, { onDelete: 'restrict' }),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'restrict' }),
    appVersion: integer('app_version').notNull(),
    environment: text('environment').notNull(),
    status: text('status', { enum: REGISTRATION_STATUSES }).notNull().default('active'),
    clientId: text('client_id').notNull(),
    authMethod: text('auth_method').notNull(),
    /** RFC 7592 management is possible: the server returned a registration_client_uri and a token. */
    managed: boolean('managed').notNull().default(false),
    registrationClientUri: text('registration_client_uri'),
    /** What Registrar sent (never a secret) and what the server answered (secrets removed). */
    requestedMetadata: jsonb('requested_metadata').$type<Record<string, unknown>>().notNull(),
    /**
     * What the person changed from the app profile when registering (the onboarding form's
     * overrides) and how the request was signed: re-registration and "sync to app profile" start
     * from the profile with these applied, so neither undoes them. Null: none / made before this was kept.
     */
    registrationOverrides: jsonb('registration_overrides').$type<RegistrationOverridesRecord>(),
    /** `sign` (Registrar signed a statement) or `udap`; `provided`: a statement pasted by a person, which Registrar cannot make again. */
    softwareStatementMode: text('software_statement_mode', { enum: ['sign', 'udap', 'provided'] }),
    registeredMetadata: jsonb('registered_metadata').$type<Record<string, unknown>>().notNull(),
    clientIdIssuedAt: timestamp('client_id_issued_at', { withTimezone: true }),
    /** never | at | unknown | none (no secret). `secret_expires_at` is set only for `at`. */
    secretExpiryKind: text('secret_expiry_kind', { enum: ['never', 'at', 'unknown', 'none'] }).notNull(),
    secretExpiresAt: timestamp('secret_expires_at', { withTimezone: true }),
    appKeyId: uuid('app_key_id').references(() => appKeys.id, { onDelete: 'set null' }),
    warnings: jsonb('warnings').$type<Array<{ code: string; message: string; field?: string }>>().notNull().default([]),
    operationId: uuid('operation_id'),
    createdBy: text('created_by'),
    /** The server's current record from the last RFC 7592 read (secrets removed), for drift. */
    serverMetadata: jsonb('server_metadata').$type<Record<string, unknown>>(),
    lastCheckedAt: timestamp('last_checked_at', { withTimezone: true }),
    /** Why the registration needs a person (management access lost, rotation failed, ...). */
    attentionReason: text('attention_reason'),
    lastRotatedAt: timestamp('last_rotated_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    /** Redirect-URI findings (errors + warnings) and SMART interactions lost, kept for filtering in SQL. */
    redirectFindingCount: integer('redirect_finding_count').notNull().default(0),
    scopeLostCount: integer('scope_lost_count').notNull().default(0),
    /** Rotation (lib/rotation): `automatic` registrations are rotated by the scheduled scan; `manual` ones raise a warning. */
    rotationPolicy: text('rotation_policy', { enum: ['automatic', 'manual'] }).notNull().default('manual'),
    /** Set when a rotation replaced this client with a new registration (re-registration); the chain ends at the active one. */
    replacedByRegistrationId: uuid('replaced_by_registration_id'),
    /** The registration this one was created to replace (by a rotation). */
    replacesRegistrationId: uuid('replaces_registration_id'),
    /** A replaced client is "retiring" until this time, then deleted at the hospital. */
    retiringUntil: timestamp('retiring_until', { withTimezone: true }),
    /** When the current credential is due for renewal (null: never, or unknown), and the expiry it was computed from. */
    renewAt: timestamp('renew_at', { withTimezone: true }),
    renewBasisKind: text('renew_basis_kind'),
    renewBasisAt: timestamp('renew_basis_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    // The scheduled scan's due-for-renewal query (lib/rotation/scan.ts).
    index('registrations_renew_due_idx').on(t.rotationPolicy, t.renewAt).where(sql`${t.status} = 'active' and ${t.replacedByRegistrationId} is null and ${t.renewAt} is not null`),
    // Registrations whose renewal time was computed from another expiry than the current one.
    index('registrations_renew_stale_idx')
      .on(t.id)
      .where(sql`${t.renewBasisKind} is distinct from ${t.secretExpiryKind} or ${t.renewBasisAt} is distinct from ${t.secretExpiresAt}`),
    uniqueIndex('registrations_issuer_client_key').on(t.issuerId, t.clientId),
    index('registrations_status_expiry_idx').on(t.status, t.secretExpiresAt),
    index('registrations_created_idx').on(t.createdAt, t.id),
    index('registrations_environment_idx').on(t.environment),
    index('registrations_expiry_idx').on(t.secretExpiresAt),
  ],
);

export const OPERATION_STATUSES = ['pending', 'in_flight', 'succeeded', 'failed', 'outcome_unknown', 'needs_recovery'] as const;

/**
 * The intent row written BEFORE a registration request leaves Registrar, keyed by the form's
 * idempotency key: concurrent or repeated submissions find it and get its result.
 */
export const registrationOperations = pgTable(
  'registration_operations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    idempotencyKey: text('idempotency_key').notNull(),
    /** SHA-256 of the normalised request: the same key with another body is a conflict. */
    requestHash: text('request_hash').notNull(),
    status: text('status', { enum: OPERATION_STATUSES }).notNull().default('pending'),
    issuerId: uuid('issuer_id').notNull(),
    appId: uuid('app_id').notNull(),
    environment: text('environment').notNull(),
    /** The metadata sent (never a secret; an initial access token is never stored). */
    request: jsonb('request').$type<Record<string, unknown>>().notNull(),
    registrationId: uuid('registration_id'),
    error: jsonb('error').$type<{ code: string; message: string; field?: string; upstream?: Record<string, unknown> } | null>(),
    createdBy: text('created_by'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('registration_operations_key').on(t.idempotencyKey),
    index('registration_operations_status_idx').on(t.status),
    // The claim's check for an earlier submission whose outcome nobody knows yet (lib/registrations/claim.ts).
    index('registration_operations_unresolved_idx')
      .on(t.issuerId, t.appId, t.environment)
      .where(sql`${t.status} in ('outcome_unknown', 'needs_recovery', 'in_flight')`),
  ],
);

export type App = typeof apps.$inferSelect;
export type AppVersion = typeof appVersions.$inferSelect;
export type AppKey = typeof appKeys.$inferSelect;
export type Registration = typeof registrations.$inferSelect;
export type RegistrationOperation = typeof registrationOperations.$inferSelect;

// ---------------------------------------------------------------------------------------------
// API tokens for machine clients (/api/v1, the CLI)

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    /** An optional subset of the role's permissions; null means all of them. */
    permissions: text('permissions').array(),
    /** SHA-256 of the token; the token itself is shown once and never stored. */
    tokenHash: text('token_hash').notNull(),
    /** The first characters, to recognise a token in lists and logs. */
    prefix: text('prefix').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdBy: text('created_by'),
    /** The person who created it (null: the CLI). Their deactivation, or a role below the token's, revokes it. */
    createdByUserId: uuid('created_by_user_id').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('api_tokens_hash_key').on(t.tokenHash), index('api_tokens_creator_idx').on(t.createdByUserId), check('api_tokens_role_check', sql`${t.role} in ('admin', 'ops', 'manager', 'support')`)],
);

/** Fixed-window request counters per token (shared by every instance). */
export const apiRateLimits = pgTable('api_rate_limits', {
  tokenId: uuid('token_id')
    .primaryKey()
    .references(() => apiTokens.id, { onDelete: 'cascade' }),
  windowStartedAt: timestamp('window_started_at', { withTimezone: true }).notNull(),
  count: integer('count').notNull().default(0),
});

export type ApiToken = typeof apiTokens.$inferSelect;

// ---------------------------------------------------------------------------------------------
// Credential rotation (lib/rotation) and expiry notifications (lib/notifications)

export const ROTATION_STRATEGIES = ['rfc7592_update', 're_registration', 'key_rollover', 'new_registration'] as const;
export type RotationStrategy = (typeof ROTATION_STRATEGIES)[number];
export const ROTATION_STATES = [
  'planned',
  'waiting_for_initial_access_token',
  'in_flight',
  'new_credential_stored',
  'waiting_for_verification',
  'verified',
  'current',
  'failed',
] as const;
export type RotationState = (typeof ROTATION_STATES)[number];
export const ROTATION_TRIGGERS = ['manual', 'bulk', 'schedule'] as const;

/**
 * One credential rotation of one registration, as a durable state machine: every step commits its
 * state, so a crash at any boundary resumes where it stopped (lib/rotation/run.ts).
 */
export const rotations = pgTable(
  'rotations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    registrationId: uuid('registration_id')
      .notNull()
      .references(() => registrations.id, { onDelete: 'cascade' }),
    strategy: text('strategy', { enum: ROTATION_STRATEGIES }).notNull(),
    /** The strategy planned first, when the rotation had to fall back to another one. */
    fallbackFrom: text('fallback_from', { enum: ROTATION_STRATEGIES }),
    state: text('state', { enum: ROTATION_STATES }).notNull().default('planned'),
    trigger: text('trigger', { enum: ROTATION_TRIGGERS }).notNull(),
    /** Failed attempts so far (retried with exponential back-off until the configured maximum). */
    attempt: integer('attempt').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    error: jsonb('error').$type<{ code: string; message: string; at: string } | null>(),
    /** Why this strategy and its steps, as shown to the person before running. */
    plan: jsonb('plan').$type<{ steps: string[]; why: string }>().notNull(),
    oldCredentialId: uuid('old_credential_id'),
    newCredentialId: uuid('new_credential_id'),
    oldAppKeyId: uuid('old_app_key_id'),
    newAppKeyId: uuid('new_app_key_id'),
    newRegistrationId: uuid('new_registration_id'),
    /** The expiry the hospital announced for the new secret (RFC 7591: 0 = never; absent = unknown). */
    newExpiry: jsonb('new_expiry').$type<{ kind: 'never' | 'at' | 'unknown' | 'none'; at: string | null } | null>(),
    /** Re-registration attempts: the intent row's idempotency key is `rotation:{id}:{n}` (a new n only after a definite refusal). */
    registerAttempt: integer('register_attempt').notNull().default(1),
    /** Set just before an RFC 7592 PUT leaves: a resume finds out by GET whether it took effect. */
    putStartedAt: timestamp('put_started_at', { withTimezone: true }),
    verifiedBy: text('verified_by'),
    /** After the switch: when the old client is deleted / the old key retired, and what happened. */
    cleanupAt: timestamp('cleanup_at', { withTimezone: true }),
    cleanupDoneAt: timestamp('cleanup_done_at', { withTimezone: true }),
    cleanupError: text('cleanup_error'),
    createdBy: text('created_by'),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** The bulk rotation (a selection rotated at once) this rotation was started by; its progress page reads by it. */
    bulkId: uuid('bulk_id'),
    /**
     * Runs of the current state's step that ended without an outcome (the process running them
     * stopped): counted when a run begins, cleared when the rotation changes state or a run ends
     * with a recorded result (lib/rotation/run.ts, MAX_UNFINISHED_RUNS).
     */
    unfinishedRuns: integer('unfinished_runs').notNull().default(0),
    /** Set when unfinished runs reached the limit: nothing runs on its own until a person retries (or abandons). */
    stalledAt: timestamp('stalled_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    index('rotations_bulk_idx').on(t.bulkId).where(sql`${t.bulkId} is not null`),
    // One active rotation per registration: concurrent requests (UI, bulk, job) join the one in progress.
    uniqueIndex('rotations_one_active_key').on(t.registrationId).where(sql`${t.state} not in ('current', 'failed')`),
    index('rotations_registration_idx').on(t.registrationId, t.createdAt),
    index('rotations_retry_idx').on(t.nextAttemptAt).where(sql`${t.state} not in ('current', 'failed')`),
    index('rotations_cleanup_idx').on(t.cleanupAt).where(sql`${t.state} = 'current' and ${t.cleanupDoneAt} is null and ${t.cleanupAt} is not null`),
  ],
);

export type Rotation = typeof rotations.$inferSelect;

export const EXPIRY_MONITOR_STATES = ['ok', 'expiring', 'expired', 'never', 'unknown'] as const;

/** The last expiry state notified per registration and credential kind: a webhook goes out when it changes. */
export const expiryStates = pgTable(
  'expiry_states',
  {
    registrationId: uuid('registration_id')
      .notNull()
      .references(() => registrations.id, { onDelete: 'cascade' }),
    credentialKind: text('credential_kind', { enum: ['client_secret', 'registration_access_token'] }).notNull(),
    state: text('state', { enum: EXPIRY_MONITOR_STATES }).notNull(),
    /** For `expiring`: the threshold crossed (days), e.g. 30, 7 or 1. */
    thresholdDays: integer('threshold_days'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.registrationId, t.credentialKind] })],
);

/**
 * The last expiry state notified per app credential: a private key by its age (it "expires" at the
 * maximum key age, REGISTRAR_KEY_MAX_AGE_DAYS), a UDAP client certificate by its validity.
 * `subjectId`: app_keys.id or app_certificates.id.
 */
export const appCredentialStates = pgTable(
  'app_credential_states',
  {
    subjectType: text('subject_type', { enum: ['private_key', 'certificate'] }).notNull(),
    subjectId: uuid('subject_id').notNull(),
    state: text('state', { enum: EXPIRY_MONITOR_STATES }).notNull(),
    thresholdDays: integer('threshold_days'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.subjectType, t.subjectId] })],
);

export const NOTIFICATION_KINDS = ['expiry_change', 'digest', 'rotation', 'test'] as const;

/** Every outbound notification (webhook) and its delivery: retried with back-off; failures shown in Settings. Never a secret. */
export const notificationDeliveries = pgTable(
  'notification_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: NOTIFICATION_KINDS }).notNull(),
    /** De-duplicates one event (e.g. the digest of one day) across instances and retries. */
    eventKey: text('event_key').notNull(),
    payload: jsonb('payload').$type<{ text: string; [key: string]: unknown }>().notNull(),
    /** Where it went: scheme, host and port only (a webhook URL's path is often itself a secret). */
    destination: text('destination'),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('notification_deliveries_event_key').on(t.eventKey),
    index('notification_deliveries_pending_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('notification_deliveries_created_idx').on(t.createdAt),
  ],
);

export type NotificationDelivery = typeof notificationDeliveries.$inferSelect;

// ---------------------------------------------------------------------------------------------
// UDAP client certificates and the resolution of registration operations with an unknown outcome

/**
 * An app's UDAP client certificate chain for one environment (public: PEM, leaf first), with the
 * leaf's description. The private key is the `app_keys` row's vault credential (purpose `udap`).
 */
export const appCertificates = pgTable(
  'app_certificates',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    environment: text('environment').notNull(),
    appKeyId: uuid('app_key_id')
      .notNull()
      .references(() => appKeys.id, { onDelete: 'cascade' }),
    chainPem: text('chain_pem').notNull(),
    chainLength: integer('chain_length').notNull(),
    subject: text('subject').notNull(),
    issuer: text('issuer').notNull(),
    /** The leaf's URI subjectAltNames: the first is the software statement's iss and sub. */
    sanUris: text('san_uris').array().notNull(),
    serialNumber: text('serial_number').notNull(),
    notBefore: timestamp('not_before', { withTimezone: true }).notNull(),
    notAfter: timestamp('not_after', { withTimezone: true }).notNull(),
    /** SHA-256 of the leaf's DER (colon-separated hex). */
    fingerprintSha256: text('fingerprint_sha256').notNull(),
    state: text('state', { enum: ['active', 'retired'] }).notNull().default('active'),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
  },
  (t) => [
    // One active certificate per app and environment; an upload retires the previous one.
    uniqueIndex('app_certificates_one_active_key').on(t.appId, t.environment).where(sql`${t.state} = 'active'`),
    uniqueIndex('app_certificates_app_key_key').on(t.appKeyId),
  ],
);

export type AppCertificate = typeof appCertificates.$inferSelect;

export const OPERATION_RESOLUTIONS = ['not_registered', 'registered'] as const;

/**
 * What a person found at the hospital for a registration operation whose outcome Registrar could
 * not know (a crash or a timeout after sending). One per operation.
 */
export const registrationOperationResolutions = pgTable('registration_operation_resolutions', {
  operationId: uuid('operation_id')
    .primaryKey()
    .references(() => registrationOperations.id, { onDelete: 'cascade' }),
  outcome: text('outcome', { enum: OPERATION_RESOLUTIONS }).notNull(),
  /** The client id the hospital shows (outcome `registered`). */
  clientId: text('client_id'),
  note: text('note'),
  resolvedBy: text('resolved_by').notNull(),
  resolvedAt: timestamp('resolved_at', { withTimezone: true }).notNull().defaultNow(),
  /** A client the hospital shows but Registrar never stored, dealt with at the hospital afterwards: who closed the operation, when, and how. */
  closedBy: text('closed_by'),
  closedAt: timestamp('closed_at', { withTimezone: true }),
  closeNote: text('close_note'),
});

export type RegistrationOperationResolution = typeof registrationOperationResolutions.$inferSelect;
