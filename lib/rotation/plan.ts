import 'server-only';
import { and, notInArray, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { uuidIn } from '@/db/any-of';
import { getDb } from '@/db/client';
import { issuers, registrations, rotations, type Issuer, type Registration, type RotationStrategy } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { looksLikeEpicRegistration } from '@/lib/oauth/registration';
import { planRotationSchema, type PlanRotationInput } from './schemas';
import { readOverrides } from './settings';

export type RotationPlan = {
  registrationId: string;
  /** Null when nothing can be rotated (see blockers). */
  strategy: RotationStrategy | null;
  steps: string[];
  why: string;
  /**
   * How the new credential is proven to work before it becomes current. `server_answer`: an
   * RFC 7592 update — the hospital's answer carries the secret it now holds, and the old one is void
   * from that moment (RFC 7592 §2.2), so there is nothing to keep current meanwhile.
   */
  verification: 'token_request' | 'person' | 'server_answer';
  /** The hospital needs a fresh initial access token before the new client can be registered. */
  needsInitialAccessToken: boolean;
  /** Reasons the rotation cannot start; empty when it can. */
  blockers: string[];
  activeRotationId: string | null;
};

export const STRATEGY_LABELS: Record<RotationStrategy, string> = {
  rfc7592_update: 'RFC 7592 update (the hospital issues a new secret)',
  re_registration: 'Re-registration (a new client from the same app profile)',
  key_rollover: 'Key rollover (private_key_jwt with Registrar’s hosted JWKS)',
  new_registration: 'New registration with a new key (no management API; needs an initial access token)',
};

export const ACTIVE_ROTATION_STATES = ['planned', 'waiting_for_initial_access_token', 'in_flight', 'new_credential_stored', 'waiting_for_verification', 'verified'] as const;
const TERMINAL = ['current', 'failed'] as const;

/** The JWKS URL Registrar hosts for an app and environment (register.ts builds the same path). */
export function isHostedJwksUri(value: unknown, appId: string, environment: string): value is string {
  return typeof value === 'string' && value.endsWith(`/api/jwks/${appId}/${encodeURIComponent(environment)}`);
}

/** Whether the registered client may use client_credentials, so a token request can prove a new credential works. */
export function canVerifyByTokenRequest(reg: Pick<Registration, 'authMethod'> & { registeredMetadata: PlanningMetadata }, issuer: Pick<Issuer, 'endpoints'>): boolean {
  const grants = reg.registeredMetadata.grant_types;
  const allows = Array.isArray(grants) && grants.includes('client_credentials');
  return allows && Boolean(issuer.endpoints.token?.value) && ['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(reg.authMethod);
}

/** Chooses the strategy for a registration from what its issuer supports. Pure apart from the inputs. */
export function chooseStrategy(
  reg: Pick<Registration, 'id' | 'status' | 'managed' | 'authMethod' | 'appId' | 'environment' | 'replacedByRegistrationId' | 'appKeyId'> & { registeredMetadata: PlanningMetadata; requestedMetadata: PlanningMetadata },
  issuer: Pick<Issuer, 'endpoints' | 'fhirBaseUrl' | 'capabilities'>,
  opts: { updateIssuesSecret?: boolean },
): Omit<RotationPlan, 'registrationId' | 'activeRotationId' | 'verification'> {
  const blockers: string[] = [];
  if (reg.status === 'deleted') blockers.push('This registration was deleted at the hospital; there is nothing to rotate.');
  if (reg.replacedByRegistrationId) blockers.push('A rotation already replaced this client; rotate the registration that replaced it.');
  const registrationEndpoint = issuer.endpoints.registration?.value ?? null;
  const epic = registrationEndpoint !== null && looksLikeEpicRegistration({ fhirBaseUrl: issuer.fhirBaseUrl, registrationEndpoint, capabilities: issuer.capabilities });
  const jwksUri = reg.registeredMetadata.jwks_uri ?? reg.requestedMetadata.jwks_uri;
  const hostedJwks = isHostedJwksUri(jwksUri, reg.appId, reg.environment);
  const secretMethod = reg.authMethod === 'client_secret_basic' || reg.authMethod === 'client_secret_post';

  let strategy: RotationStrategy | null;
  let why: string;
  // A client without a secret but with a key and no management is the Epic pattern even when discovery does not say Epic.
  if (epic || (!reg.managed && reg.authMethod === 'none' && reg.appKeyId !== null && registrationEndpoint)) {
    strategy = 'new_registration';
    why = epic
      ? 'This is an Epic-style registration endpoint: it offers no RFC 7592 management, so rotating means registering a new client with a new key, which needs a fresh initial access token (from a one-time standalone launch).'
      : 'The hospital offers no RFC 7592 management for this client: rotating means a new registration with a new key.';
  } else if (reg.authMethod === 'private_key_jwt' && hostedJwks) {
    strategy = 'key_rollover';
    why = 'The client authenticates with private_key_jwt and the hospital reads Registrar’s hosted JWKS, so a new key can be published beside the old one and signing switched without changing the registration. The old key stays published for the verifier’s cache window.';
  } else if (reg.authMethod === 'private_key_jwt') {
    strategy = 're_registration';
    why = 'The client’s public key was registered inline (jwks), so the hospital cannot pick up a new key by itself: a new client is registered with a new key, verified, switched to, and the old one deleted after the grace period.';
  } else if (secretMethod && reg.managed && opts.updateIssuesSecret === true) {
    strategy = 'rfc7592_update';
    why = 'This issuer issues a new client_secret when a registration is updated (RFC 7592 §2.2), so one update rotates the secret in place; the client_id stays the same. The old secret stops working as soon as the hospital answers, so clients pick up the new one from Registrar at once.';
  } else if (secretMethod) {
    strategy = 're_registration';
    why = reg.managed
      ? `${opts.updateIssuesSecret === false ? 'An RFC 7592 update at this issuer keeps the old secret (learned from an earlier attempt)' : 'It is not known that an RFC 7592 update at this issuer issues a new secret (node-oidc-provider, for one, keeps the old secret)'}, so a new client is registered from the same app profile, verified, switched to, and the old one deleted at the hospital after the grace period.`
      : 'The hospital offers no RFC 7592 management for this client: a new client is registered from the same app profile; the old one has to be removed at the hospital by a person.';
  } else {
    strategy = null;
    why = 'This client has no credential to rotate (public client, token_endpoint_auth_method none).';
    blockers.push(why);
  }
  if (strategy && strategy !== 'key_rollover' && strategy !== 'rfc7592_update' && !registrationEndpoint) {
    blockers.push('The issuer has no registration endpoint, so a new client cannot be registered; rotate the credential with the hospital by hand.');
  }
  return { strategy, steps: strategy ? stepsFor(strategy) : [], why, needsInitialAccessToken: strategy === 'new_registration', blockers };
}

export function stepsFor(strategy: RotationStrategy): string[] {
  switch (strategy) {
    case 'rfc7592_update':
      return [
        'Read the registration at the hospital when Registrar’s copy of its last answer is stale (RFC 7592 GET).',
        'Send the whole registration back (RFC 7592 PUT), marked as sent first so that a lost answer is recovered by a GET.',
        'Store the new secret and any new registration access token as current, in one transaction with the rotation: the hospital’s answer is the proof, and the old secret stopped working when it was sent (RFC 7592 §2.2). The old secret is kept as previous.',
      ];
    case 're_registration':
      return [
        'Register a new client at the hospital from the same app profile (one intent row, idempotency key from this rotation).',
        'Verify the new client with a token request (or a person confirms it works).',
        'Switch: the new registration becomes the one Registrar calls current; the old client is “retiring”.',
        'Delete the old client at the hospital after the grace period.',
      ];
    case 'key_rollover':
      return [
        'Generate a new key and publish it at /api/jwks beside the old one (state “next”).',
        'Verify a client assertion signed with the new key at the token endpoint (or a person confirms it works).',
        'Switch signing to the new key.',
        'Stop publishing the old key after the verifier’s cache window (default 29 h).',
      ];
    case 'new_registration':
      return [
        'Wait for a fresh initial access token from ops (Epic: the access token of a one-time standalone launch).',
        'Generate a new key and register a new client with it.',
        'A person confirms the new client works (or a token request does, where allowed).',
        'Switch: the new registration becomes current; remove the old client at the hospital (no management API).',
      ];
  }
}

/** The plan shown before running: strategy, steps and why, or what blocks a rotation. */
export async function planRotation(actor: Actor, input: PlanRotationInput): Promise<RotationPlan> {
  assertCan(actor, 'registrations:read');
  const { registrationId } = planRotationSchema.parse(input);
  return planFor(registrationId);
}

function withVerification(
  reg: Pick<Registration, 'authMethod'> & { registeredMetadata: PlanningMetadata },
  issuer: Pick<Issuer, 'endpoints'>,
  chosen: ReturnType<typeof chooseStrategy>,
): ReturnType<typeof chooseStrategy> & Pick<RotationPlan, 'verification'> {
  const verification = chosen.strategy === 'rfc7592_update' ? 'server_answer' : canVerifyByTokenRequest(reg, issuer) ? 'token_request' : 'person';
  return { ...chosen, verification };
}

/** planRotation without the permission check, for the state machine and the scan. */
export async function planFor(registrationId: string): Promise<RotationPlan> {
  const [plan] = await planForMany([registrationId]);
  if (!plan) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  return plan;
}

/**
 * The plans of many registrations in three queries (registrations with their issuers, the issuers'
 * overrides, the active rotations), for the scan and bulk rotation. Unknown ids are left out.
 */
export async function planForMany(registrationIds: readonly string[]): Promise<RotationPlan[]> {
  if (registrationIds.length === 0) return [];
  const ids = [...new Set(registrationIds)];
  // Only what the choice reads (the scan plans hundreds at a time): of the metadata, the members
  // PlanningMetadata names; each issuer once, not once per registration (its discovery documents
  // are large, and a join would send and parse them with every row).
  const regs = await getDb()
    .select({
      id: registrations.id,
      issuerId: registrations.issuerId,
      status: registrations.status,
      managed: registrations.managed,
      authMethod: registrations.authMethod,
      registeredMetadata: planningMetadata(registrations.registeredMetadata),
      requestedMetadata: planningMetadata(registrations.requestedMetadata),
      appId: registrations.appId,
      environment: registrations.environment,
      replacedByRegistrationId: registrations.replacedByRegistrationId,
      appKeyId: registrations.appKeyId,
    })
    .from(registrations)
    .where(uuidIn(registrations.id, ids));
  const issuerIds = [...new Set(regs.map((r) => r.issuerId))];
  const [issuerRows, overrides, active] = await Promise.all([
    issuerIds.length
      ? getDb().select({ id: issuers.id, endpoints: issuers.endpoints, fhirBaseUrl: issuers.fhirBaseUrl, capabilities: issuers.capabilities }).from(issuers).where(uuidIn(issuers.id, issuerIds))
      : [],
    Promise.all(issuerIds.map(async (id) => [id, await readOverrides('issuer', id)] as const)).then((entries) => new Map(entries)),
    getDb()
      .select({ id: rotations.id, registrationId: rotations.registrationId })
      .from(rotations)
      .where(and(uuidIn(rotations.registrationId, ids), notInArray(rotations.state, [...TERMINAL]))),
  ]);
  const issuerById = new Map(issuerRows.map((i) => [i.id, i]));
  const activeByRegistration = new Map(active.map((a) => [a.registrationId, a.id]));
  return regs.flatMap((reg) => {
    const issuer = issuerById.get(reg.issuerId);
    // Cannot happen (an issuer with registrations cannot be deleted); left out as unknown if it did.
    if (!issuer) return [];
    return [
      {
        registrationId: reg.id,
        ...withVerification(reg, issuer, chooseStrategy(reg, issuer, { updateIssuesSecret: overrides.get(issuer.id)?.updateIssuesSecret })),
        activeRotationId: activeByRegistration.get(reg.id) ?? null,
      },
    ];
  });
}

/** The members of the registered and requested metadata that choosing a strategy reads. */
const PLANNING_METADATA_KEYS = ['grant_types', 'jwks_uri'] as const;
type PlanningMetadata = Partial<Record<(typeof PLANNING_METADATA_KEYS)[number], unknown>>;

function planningMetadata(column: AnyColumn): SQL<PlanningMetadata> {
  const members = PLANNING_METADATA_KEYS.map((key) => sql`${sql.raw(`'${key}'`)}, ${column} -> ${sql.raw(`'${key}'`)}`);
  return sql<PlanningMetadata>`jsonb_build_object(${sql.join(members, sql`, `)})`;
}
