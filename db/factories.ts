import 'server-only';
import { randomBytes } from 'node:crypto';
import { getDb } from './client';
import { appVersions, apps, healthSystems, issuers, users, type AppProfile, type EnvironmentProfile, type Role } from './schema';
import { hashPassword } from '@/lib/auth/password';
import type { Actor } from '@/lib/auth/actor';

/** A unique suffix so tests and seeds never collide on unique columns. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** Inserts a user directly (seeds and tests). Returns its actor and, when asked, a password. */
export async function insertUser(opts: { role: Role; email?: string; password?: string; isActive?: boolean; name?: string }) {
  const email = (opts.email ?? `${opts.role}-${uniqueSuffix()}@example.test`).toLowerCase();
  const passwordHash = opts.password ? await hashPassword(opts.password) : null;
  const [row] = await getDb()
    .insert(users)
    .values({ email, role: opts.role, passwordHash, isActive: opts.isActive ?? true, name: opts.name ?? null })
    .returning({ id: users.id, email: users.email, role: users.role });
  if (!row) throw new Error('insertUser: no row returned');
  const actor: Actor = { type: 'user', id: row.id, email: row.email, role: row.role };
  return { ...row, actor };
}

/** A health system with one issuer row written directly (tests that use a hand-written server). */
export async function insertIssuer(opts: { registrationEndpoint: string; tokenEndpoint?: string; authMethods?: string[]; issuerUrl?: string }) {
  const suffix = uniqueSuffix();
  const [system] = await getDb().insert(healthSystems).values({ name: `Factory Hospital ${suffix}` }).returning({ id: healthSystems.id });
  const origin = new URL(opts.registrationEndpoint).origin;
  const [row] = await getDb()
    .insert(issuers)
    .values({
      healthSystemId: system!.id,
      environment: 'production',
      inputUrl: `${origin}/factory/${suffix}`,
      issuerUrl: opts.issuerUrl ?? `${origin}/factory/${suffix}`,
      endpoints: {
        registration: { value: opts.registrationEndpoint, source: 'openid-configuration', conflicts: [] },
        token: { value: opts.tokenEndpoint ?? `${origin}/token`, source: 'openid-configuration', conflicts: [] },
      },
      tokenEndpointAuthMethodsSupported: opts.authMethods ?? ['client_secret_basic', 'private_key_jwt'],
    })
    .returning({ id: issuers.id });
  return { healthSystemId: system!.id, issuerId: row!.id };
}

/** An app profile (version 1) with one environment per given name. */
export async function insertApp(opts: { environments: Record<string, Partial<EnvironmentProfile>>; softwareStatement?: boolean }) {
  const suffix = uniqueSuffix();
  const environments = Object.fromEntries(
    Object.entries(opts.environments).map(([name, e]) => [
      name,
      {
        redirectUris: ['https://app.example.com/callback'],
        grantTypes: ['authorization_code'],
        responseTypes: ['code'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        scope: 'openid fhirUser launch/patient',
        keyAlgorithm: 'ES384',
        ...e,
      } satisfies EnvironmentProfile,
    ]),
  );
  const profile: AppProfile = {
    name: `Factory App ${suffix}`,
    softwareId: `com.example.factory.${suffix}`,
    softwareVersion: '1.0.0',
    clientUri: 'https://app.example.com',
    logoUri: null,
    tosUri: null,
    policyUri: null,
    contacts: ['ops@example.com'],
    environments,
    softwareStatement: { enabled: Boolean(opts.softwareStatement) },
  };
  const [app] = await getDb().insert(apps).values({ name: profile.name, softwareId: profile.softwareId }).returning({ id: apps.id });
  await getDb().insert(appVersions).values({ appId: app!.id, version: 1, profile, createdBy: 'factory' });
  return { appId: app!.id, profile };
}
