import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { registrations, rotations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { isAppError } from '@/lib/errors';
import { deleteRegistration } from '@/lib/registrations/manage/delete';
import { importRecoveryFiles } from '@/lib/registrations/recovery';
import { registerApp } from '@/lib/registrations/register';
import { withEnv } from '@/test/support/env';
import type { Sandbox } from '@/sandbox/index';
import { resolveActiveRegistration } from './queries';
import { confirmRotationVerified, resumeRotation, startRotation } from './run';
import { generalSandbox, register, registrationRow } from './test-support';

/**
 * Re-registration at General Hospital for an app without client_credentials: the new client waits
 * for a person to verify it. Meanwhile it must not be deleted from under the rotation, and a
 * rotation whose new client is gone anyway must not switch to it.
 */
let sandbox: Sandbox;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;

beforeAll(async () => {
  ({ sandbox, ops, issuerId } = await generalSandbox());
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

describe('a replacement client the database would not store (kept in a recovery file)', () => {
  it('the rotation waits for `npm run recover` instead of failing, then goes on with that very client', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-rotation-recovery-'));
    try {
      await withEnv({ REGISTRAR_DATA_DIR: dataDir }, async () => {
        const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read' } } });
        const reg = await register(ops.actor, issuerId, appId);
        // The database refuses new registrations of this app (a full disk, say) while the rotation registers.
        await getDb().execute(sql.raw(`create function refuse_app_registrations() returns trigger language plpgsql as $$ begin if new.app_id = '${appId}' then raise exception 'disk full (simulated)'; end if; return new; end $$`));
        await getDb().execute(sql`create trigger refuse_app_registrations before insert on registrations for each row execute function refuse_app_registrations()`);
        let waiting;
        try {
          waiting = await startRotation(ops.actor, { registrationId: reg.registrationId });
        } finally {
          await getDb().execute(sql`drop trigger refuse_app_registrations on registrations`);
          await getDb().execute(sql`drop function refuse_app_registrations()`);
        }
        expect(waiting.state).not.toBe('failed');
        expect(waiting.error).toMatchObject({ code: 'NEEDS_RECOVERY', message: expect.stringMatching(/kept encrypted in .*recovery.*\. Run `npm run recover` once the database is healthy: this rotation then goes on/) });
        expect(new Date(waiting.nextAttemptAt!).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
        expect((await registrationRow(reg.registrationId)).status).toBe('needs_attention');
        // Not resumed before its time, and still waiting when resumed while the file is pending.
        expect((await resumeRotation(waiting.id)).state).toBe(waiting.state);

        expect(await importRecoveryFiles()).toEqual({ imported: 1, failed: 0 });
        await getDb().update(rotations).set({ nextAttemptAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, waiting.id));
        const done = await resumeRotation(waiting.id);
        expect(done.state).toBe('current');
        const active = await resolveActiveRegistration(reg.registrationId);
        const recovered = await registrationRow(active.registrationId);
        expect(recovered.id).not.toBe(reg.registrationId);
        expect(recovered.replacesRegistrationId).toBe(reg.registrationId);
        expect((await registrationRow(reg.registrationId)).status).toBe('active');
      });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
