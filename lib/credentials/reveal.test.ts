import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { auditLog, registrations } from '@/db/schema';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';
import { revealRegistrationSecret } from './reveal';
import { storeCredential } from './store';

let ops: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
let withSecret: string;
let withoutSecret: string;

async function insertRegistration(clientId: string) {
  const { issuerId } = await insertIssuer({ registrationEndpoint: 'https://as.example.com/register' });
  const { appId } = await insertApp({ environments: { production: {} } });
  const [row] = await getDb()
    .insert(registrations)
    .values({ issuerId, appId, appVersion: 1, environment: 'production', clientId, authMethod: 'client_secret_basic', requestedMetadata: {}, registeredMetadata: {}, secretExpiryKind: 'never' })
    .returning({ id: registrations.id });
  return row!.id;
}

beforeAll(async () => {
  ops = await insertUser({ role: 'ops' });
  support = await insertUser({ role: 'support' });
  withSecret = await insertRegistration(`reveal-${Date.now()}-a`);
  withoutSecret = await insertRegistration(`reveal-${Date.now()}-b`);
  await getDb().transaction((tx) => storeCredential(tx, { ownerType: 'registration', ownerId: withSecret, kind: 'client_secret', plaintext: 'the-revealed-secret' }));
});

afterAll(async () => {
  await closeDb();
});

const reveals = (registrationId: string) =>
  getDb().select({ outcome: auditLog.outcome, actorId: auditLog.actorId, details: auditLog.details }).from(auditLog).where(and(eq(auditLog.action, 'credential.reveal'), eq(auditLog.targetId, registrationId))).orderBy(auditLog.id);

describe('revealing a secret', () => {
  it('audits every attempt: a reveal, a refused role, nothing to reveal, and a vault that will not open', async () => {
    expect((await revealRegistrationSecret(ops.actor, { registrationId: withSecret, kind: 'client_secret' })).value).toBe('the-revealed-secret');
    await expect(revealRegistrationSecret(support.actor, { registrationId: withSecret, kind: 'client_secret' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(revealRegistrationSecret(ops.actor, { registrationId: withoutSecret, kind: 'client_secret' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const keys = currentVaultKeys();
    setVaultKeys({}); // no key: the vault is locked
    try {
      await expect(revealRegistrationSecret(ops.actor, { registrationId: withSecret, kind: 'client_secret' })).rejects.toMatchObject({ code: 'VAULT_LOCKED' });
    } finally {
      setVaultKeys(keys);
    }

    expect((await reveals(withSecret)).map((r) => [r.outcome, r.actorId, (r.details as { error?: string }).error ?? null])).toEqual([
      ['success', ops.id, null],
      ['denied', support.id, null],
      ['failure', ops.id, 'VAULT_LOCKED'],
    ]);
    expect((await reveals(withoutSecret)).map((r) => [r.outcome, (r.details as { error?: string }).error])).toEqual([['failure', 'NOT_FOUND']]);
    // The secret is in no audit row.
    expect(JSON.stringify(await reveals(withSecret))).not.toContain('the-revealed-secret');
  });
});
