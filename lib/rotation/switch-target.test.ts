import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { registrations, rotations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { isAppError } from '@/lib/errors';
import { deleteRegistration } from '@/lib/registrations/manage/delete';
import { registerApp } from '@/lib/registrations/register';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { resolveActiveRegistration } from './queries';
import { confirmRotationVerified, startRotation } from './run';
import { allowlist, register, registrationRow, sandboxIssuer } from './test-support';

/**
 * Re-registration at General Hospital for an app without client_credentials: the new client waits
 * for a person to verify it. Meanwhile it must not be deleted from under the rotation, and a
 * rotation whose new client is gone anyway must not switch to it.
 */
let sandbox: Sandbox;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  const admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, sandbox.general.origin);
  issuerId = (await sandboxIssuer(ops.actor, sandbox.general.fhirBase)).id;
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

async function waitingForVerification() {
  const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code'] } } });
  const reg = await register(ops.actor, issuerId, appId);
  const rotation = await startRotation(ops.actor, { registrationId: reg.registrationId });
  expect(rotation).toMatchObject({ strategy: 're_registration', state: 'waiting_for_verification' });
  return { reg, rotation, newRegistrationId: rotation.newRegistrationId! };
}

async function caught(promise: Promise<unknown>) {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => {
      if (!isAppError(e)) throw e;
      return e;
    },
  );
}

describe('the new client of a rotation that has not switched yet', () => {
  it('cannot be deleted: the rotation is named and nothing is sent to the hospital', async () => {
    const { reg, rotation, newRegistrationId } = await waitingForVerification();
    const error = await caught(deleteRegistration(ops.actor, { registrationId: newRegistrationId }));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(new RegExp(`registered by a rotation of registration ${reg.registrationId} that has not switched to it yet\\. Abandon that rotation first`));
    expect(error.details).toMatchObject({ rotationId: rotation.id });
    expect((await registrationRow(newRegistrationId)).status).toBe('active');
  });

  it('gone anyway (deleted at the hospital and recorded so): confirming it does not switch; the old client stays the one in use, its secret current, nothing scheduled for deletion', async () => {
    const { reg, rotation, newRegistrationId } = await waitingForVerification();
    const oldSecret = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!;
    await getDb().update(registrations).set({ status: 'deleted', deletedAt: new Date() }).where(eq(registrations.id, newRegistrationId));

    const confirmed = await confirmRotationVerified(ops.actor, { rotationId: rotation.id });
    expect(confirmed.state).toBe('failed');
    expect(confirmed.error?.message).toMatch(/cannot be switched to\. The old credential stays current; start a new rotation\./);
    expect((await resolveActiveRegistration(reg.registrationId)).registrationId).toBe(reg.registrationId);
    expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!.id).toBe(oldSecret.id);
    const old = await registrationRow(reg.registrationId);
    expect(old.replacedByRegistrationId).toBeNull();
    const [row] = await getDb().select({ cleanupAt: rotations.cleanupAt }).from(rotations).where(eq(rotations.id, rotation.id));
    expect(row!.cleanupAt).toBeNull();
  });
});

describe('re-registration reproduces the registration the person made', () => {
  it('with the overrides they chose at onboarding (not the bare app profile)', async () => {
    const { appId } = await insertApp({
      environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read', redirectUris: ['https://app.example.com/callback'] } },
    });
    const overrides = { redirectUris: ['https://override.example.com/cb'], clientName: 'Override name' };
    const reg = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID(), overrides });
    const rotation = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(rotation).toMatchObject({ strategy: 're_registration', state: 'current' });
    const replacement = await registrationRow(rotation.newRegistrationId!);
    expect(replacement.registeredMetadata).toMatchObject({ redirect_uris: ['https://override.example.com/cb'], client_name: 'Override name' });
    // Kept for the next rotation too.
    expect(replacement.registrationOverrides).toEqual(overrides);
  });

  it('refuses, and says what to do, when it was made with a software statement a person pasted (Registrar cannot make it again)', async () => {
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read' } } });
    const reg = await register(ops.actor, issuerId, appId);
    await getDb().update(registrations).set({ softwareStatementMode: 'provided' }).where(eq(registrations.id, reg.registrationId));
    const rotation = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(rotation.state).toBe('failed');
    expect(rotation.error?.message).toMatch(/software statement that a person pasted: Registrar cannot make it again/);
    expect(rotation.newRegistrationId).toBeNull();
  });
});
