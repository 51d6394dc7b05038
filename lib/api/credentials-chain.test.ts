import { and, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, registrations } from '@/db/schema';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';
import { storeCredential } from '@/lib/credentials/store';
import { readRegistrationCredentials } from './credentials';

afterAll(closeDb);

async function insertRegistration(issuerId: string, appId: string, clientId: string) {
  const [row] = await getDb()
    .insert(registrations)
    .values({ issuerId, appId, appVersion: 1, environment: 'production', clientId, authMethod: 'client_secret_basic', requestedMetadata: {}, registeredMetadata: {}, secretExpiryKind: 'never' })
    .returning({ id: registrations.id });
  return row!.id;
}

describe('credentials for a deployment pipeline', () => {
  it('follows the replacement chain after a rotation by re-registration', async () => {
    const ops = await insertUser({ role: 'ops' });
    const { issuerId } = await insertIssuer({ registrationEndpoint: `https://chain-${uniqueSuffix()}.example.test/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const oldId = await insertRegistration(issuerId, appId, `old-${uniqueSuffix()}`);
    const newClientId = `new-${uniqueSuffix()}`;
    const newId = await insertRegistration(issuerId, appId, newClientId);
    await storeCredential(getDb(), { ownerType: 'registration', ownerId: oldId, kind: 'client_secret', plaintext: 'old-secret' });
    await storeCredential(getDb(), { ownerType: 'registration', ownerId: newId, kind: 'client_secret', plaintext: 'new-secret' });
    await getDb().update(registrations).set({ replacedByRegistrationId: newId }).where(eq(registrations.id, oldId));

    const creds = await readRegistrationCredentials(ops.actor, oldId);
    expect(creds).toMatchObject({ registrationId: newId, clientId: newClientId, clientSecret: 'new-secret' });
  });

  it('refuses a role without credentials:read', async () => {
    const manager = await insertUser({ role: 'manager' });
    await expect(readRegistrationCredentials(manager.actor, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a read refused by a locked vault is audited as a failure', async () => {
    const ops = await insertUser({ role: 'ops' });
    const { issuerId } = await insertIssuer({ registrationEndpoint: `https://locked-${uniqueSuffix()}.example.test/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const id = await insertRegistration(issuerId, appId, `locked-${uniqueSuffix()}`);
    const keys = currentVaultKeys();
    setVaultKeys({});
    try {
      await expect(readRegistrationCredentials(ops.actor, id)).rejects.toMatchObject({ code: 'VAULT_LOCKED' });
    } finally {
      setVaultKeys(keys);
    }
    const rows = await getDb().select({ outcome: auditLog.outcome, details: auditLog.details }).from(auditLog).where(and(eq(auditLog.action, 'credential.read'), eq(auditLog.targetId, id)));
    expect(rows).toEqual([{ outcome: 'failure', details: expect.objectContaining({ error: 'VAULT_LOCKED' }) }]);
  });
});
