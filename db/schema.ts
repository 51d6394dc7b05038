import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const ROLES = ['admin', 'ops', 'manager', 'support'] as const;
export type Role = (typeof ROLES)[number];

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
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  // One running operation of a kind at a time: a second "refresh all" joins the first.
  (t) => [uniqueIndex('bulk_operations_one_active_key').on(t.kind).where(sql`${t.status} in ('queued', 'running')`)],
);

export type HealthSystem = typeof healthSystems.$inferSelect;
export type Issuer = typeof issuers.$inferSelect;
export type DiscoveryRun = typeof discoveryRuns.$inferSelect;
