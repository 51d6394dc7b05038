import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import { auditLog, rotations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import type { Sandbox } from '@/sandbox/index';
import { createRotations } from './create';
import { abandonRotation } from './run';
import { clientCredentialsApp, generalSandbox, register, registrationRow } from './test-support';

let sandbox: Sandbox;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;

beforeAll(async () => {
  ({ sandbox, ops, issuerId } = await generalSandbox({ generalIssuesSecretOnUpdate: true }));
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

async function plannedRotation() {
  const { appId } = await clientCredentialsApp();
  const reg = await register(ops.actor, issuerId, appId);
  const { rotations: [created] } = await createRotations(ops.actor, [reg.registrationId], 'manual');
  return { reg, rotationId: created!.rotation.id };
}

describe('abandoning a rotation', () => {
  it('before anything was sent: the old credential is still current and the registration is left as it was', async () => {
    const { reg, rotationId } = await plannedRotation();
    const view = await abandonRotation(ops.actor, { rotationId });
    expect(view).toMatchObject({ state: 'failed', updateSentAt: null, error: { code: 'ABANDONED', message: expect.stringMatching(/the old credential is still current/) } });
    expect((await registrationRow(reg.registrationId)).status).toBe('active');
  });

  it('after an RFC 7592 update was sent whose outcome is not known: it does not claim the old secret works, and the registration needs attention with what to do', async () => {
    const { reg, rotationId } = await plannedRotation();
    const secretBefore = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!;
    // Where a PUT left it whose answer never came back and whose recovery GET has not succeeded yet.
    await getDb()
      .update(rotations)
      .set({ state: 'in_flight', putStartedAt: sql`now() - interval '3 minutes'`, nextAttemptAt: sql`now() + interval '5 minutes'`, attempt: 1 })
      .where(eq(rotations.id, rotationId));

    const view = await abandonRotation(ops.actor, { rotationId });
    expect(view.state).toBe('failed');
    expect(view.updateSentAt).toBeNull();
    expect(view.error?.message).toMatch(/outcome is not known: the old secret may no longer work\. Refresh this registration from the hospital/);
    expect(view.error?.message).not.toMatch(/still current/);
    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('needs_attention');
    expect(row.attentionReason).toBe(view.error?.message);
    // Nothing about the stored secret changed: Registrar does not know what the hospital holds.
    expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!.id).toBe(secretBefore.id);
    const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.targetId, reg.registrationId), eq(auditLog.action, 'rotation.abandon')));
    expect(audit?.details).toMatchObject({ rotationId, state: 'in_flight', updateOutcomeUnknown: true });
  });
});
