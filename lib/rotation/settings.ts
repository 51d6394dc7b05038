import 'server-only';
import { eq, like, or } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { appSettings, apps, issuers, registrations } from '@/db/schema';
import { assertCanAudited, recordAudit } from '@/lib/audit/record';
import type { Actor } from '@/lib/auth/actor';
import { env } from '@/lib/env';
import { AppError } from '@/lib/errors';
import { mergeSetting } from '@/lib/settings/store';

/**
 * Rotation policy knobs. Defaults come from the environment (lib/env.ts); an issuer and an app may
 * override them (app_settings `rotation.issuer.{id}` and `rotation.app.{id}`; the app's wins).
 */
export type RenewalPolicy = {
  /** Renew this many days before expiry at the latest. */
  renewBeforeDays: number;
  /** …or once this fraction of the credential's lifetime has passed, whichever comes first. */
  lifetimeFraction: number;
  /** Renew credentials that never expire (or keys) after this many days; null = no forced renewal. */
  maxAgeDays: number | null;
};

export const rotationOverridesSchema = z
  .object({
    renewBeforeDays: z.coerce.number().min(0).max(3650).optional(),
    lifetimeFraction: z.coerce.number().gt(0).lt(1).optional(),
    maxAgeDays: z.coerce.number().min(1).max(3650).nullable().optional(),
    /** Issuer only: whether an RFC 7592 update makes this server issue a new client secret (learned or set by ops). */
    updateIssuesSecret: z.boolean().optional(),
  })
  .strict();
export type RotationOverrides = z.output<typeof rotationOverridesSchema>;

export const ISSUER_SETTINGS_PREFIX = 'rotation.issuer.';
export const APP_SETTINGS_PREFIX = 'rotation.app.';

export function defaultRenewalPolicy(): RenewalPolicy {
  const e = env();
  return { renewBeforeDays: e.REGISTRAR_ROTATION_RENEW_BEFORE_DAYS, lifetimeFraction: e.REGISTRAR_ROTATION_RENEW_LIFETIME_FRACTION, maxAgeDays: null };
}

export function effectivePolicy(issuer: RotationOverrides | undefined, app: RotationOverrides | undefined): RenewalPolicy {
  const base = defaultRenewalPolicy();
  const pick = <K extends keyof RenewalPolicy>(k: K): RenewalPolicy[K] => (app?.[k] ?? issuer?.[k] ?? base[k]) as RenewalPolicy[K];
  return { renewBeforeDays: pick('renewBeforeDays'), lifetimeFraction: pick('lifetimeFraction'), maxAgeDays: pick('maxAgeDays') };
}

export type OverrideMaps = { issuers: Map<string, RotationOverrides>; apps: Map<string, RotationOverrides> };

/** Every issuer and app override, read once per scan. */
export async function loadAllOverrides(): Promise<OverrideMaps> {
  const rows = await getDb()
    .select({ key: appSettings.key, value: appSettings.value })
    .from(appSettings)
    .where(or(like(appSettings.key, `${ISSUER_SETTINGS_PREFIX}%`), like(appSettings.key, `${APP_SETTINGS_PREFIX}%`)));
  const maps: OverrideMaps = { issuers: new Map(), apps: new Map() };
  for (const row of rows) {
    const parsed = rotationOverridesSchema.safeParse(row.value);
    if (!parsed.success) continue;
    if (row.key.startsWith(ISSUER_SETTINGS_PREFIX)) maps.issuers.set(row.key.slice(ISSUER_SETTINGS_PREFIX.length), parsed.data);
    else maps.apps.set(row.key.slice(APP_SETTINGS_PREFIX.length), parsed.data);
  }
  return maps;
}

export async function readOverrides(kind: 'issuer' | 'app', id: string): Promise<RotationOverrides> {
  const [row] = await getDb()
    .select({ value: appSettings.value })
    .from(appSettings)
    .where(eq(appSettings.key, `${kind === 'issuer' ? ISSUER_SETTINGS_PREFIX : APP_SETTINGS_PREFIX}${id}`))
    .limit(1);
  const parsed = rotationOverridesSchema.safeParse(row?.value ?? {});
  return parsed.success ? parsed.data : {};
}

const setOverridesSchema = z.object({ kind: z.enum(['issuer', 'app']), id: z.uuid(), overrides: rotationOverridesSchema });
export type SetRotationOverridesInput = z.input<typeof setOverridesSchema>;

/**
 * Sets an issuer's or app's rotation overrides (merged over what is stored; null clears max age).
 * The renewal time of every registration it touches is recomputed by the next scan.
 */
export async function setRotationOverrides(actor: Actor, input: SetRotationOverridesInput): Promise<RotationOverrides> {
  const data = setOverridesSchema.parse(input);
  await assertCanAudited(actor, ['registrations:write'], { action: 'rotation.settings', targetType: data.kind, targetId: data.id });
  if (data.kind === 'app' && data.overrides.updateIssuesSecret !== undefined) {
    throw new AppError('INVALID', 'Whether an update issues a new secret is a property of the issuer, not of the app.', { field: 'updateIssuesSecret' });
  }
  const table = data.kind === 'issuer' ? issuers : apps;
  const [exists] = await getDb().select({ id: table.id }).from(table).where(eq(table.id, data.id)).limit(1);
  if (!exists) throw new AppError('NOT_FOUND', `That ${data.kind} does not exist.`);
  // Merged in the statement that writes it: a rotation learning updateIssuesSecret, or another
  // person, changing another key at the same moment keeps its change.
  return getDb().transaction(async (tx) => {
    const stored = await mergeSetting(tx, `${data.kind === 'issuer' ? ISSUER_SETTINGS_PREFIX : APP_SETTINGS_PREFIX}${data.id}`, data.overrides);
    const merged = rotationOverridesSchema.safeParse(stored).data ?? data.overrides;
    await invalidateRenewals(tx, data.kind, data.id);
    await recordAudit(tx, actor, { action: 'rotation.settings', targetType: data.kind, targetId: data.id, details: { overrides: merged } });
    return merged;
  });
}

/** Records what an RFC 7592 update at this issuer did (learned during a rotation); only that key changes. */
export async function learnUpdateIssuesSecret(issuerId: string, value: boolean): Promise<void> {
  await mergeSetting(getDb(), `${ISSUER_SETTINGS_PREFIX}${issuerId}`, { updateIssuesSecret: value });
}

/** Marks renewal times stale so that the next scan recomputes them. */
async function invalidateRenewals(tx: Parameters<typeof mergeSetting>[0], kind: 'issuer' | 'app', id: string): Promise<void> {
  const column = kind === 'issuer' ? registrations.issuerId : registrations.appId;
  await tx.update(registrations).set({ renewBasisKind: null, renewBasisAt: null }).where(eq(column, id));
}

/** Runtime knobs of the state machine (tests pass smaller values through deps). */
export type RotationTimings = { maxAttempts: number; backoffSeconds: number; graceSeconds: number; keyCacheSeconds: number };

export function defaultTimings(): RotationTimings {
  const e = env();
  return {
    maxAttempts: e.REGISTRAR_ROTATION_MAX_ATTEMPTS,
    backoffSeconds: e.REGISTRAR_ROTATION_BACKOFF_SECONDS,
    graceSeconds: e.REGISTRAR_ROTATION_GRACE_SECONDS,
    keyCacheSeconds: e.REGISTRAR_ROTATION_KEY_CACHE_SECONDS,
  };
}

/** Exponential back-off: base, 2×base, 4×base, … capped at a day. */
export function backoffDelayMs(attempt: number, baseSeconds: number): number {
  return Math.min(baseSeconds * 1000 * 2 ** Math.max(0, attempt - 1), 86_400_000);
}
