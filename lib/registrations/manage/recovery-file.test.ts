import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog } from '@/db/schema';
import { readCurrentCredential, storeCredential } from '@/lib/credentials/store';
import { isAppError } from '@/lib/errors';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { registerApp } from '@/lib/registrations/register';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { addSandboxIssuer } from '@/test/support/issuers';
import { withEnv } from '@/test/support/env';
import { whileCredentialsRefused } from '@/test/support/refuse-credentials';
import { importRecoveryFiles, writeManagementRecoveryFile } from '../recovery';
import { refreshRegistrationFromServer } from './refresh';
import { updateRegistration } from './update';

/**
 * General Hospital (node-oidc-provider) replaces the registration access token on every RFC 7592
 * update and the old one dies at once. If the database refuses the new one, it is written to an
 * encrypted recovery file, and `npm run recover` stores it: management is not lost.
 */
let sandbox: Sandbox;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;
let dataDir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  const admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await addAllowlistEntry(admin.actor, { entry: `http://${new URL(sandbox.general.origin).host}` }).catch(() => {});
  const system = await createHealthSystem(ops.actor, { name: `General ${uniqueSuffix()}` });
  issuerId = (await addSandboxIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.fhirBase, environment: 'sandbox' })).id;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-mgmt-recovery-'));
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('a new registration access token the database refuses', () => {
  it('is kept in an encrypted recovery file (never in the message), and `npm run recover` makes it current: the next management call works', async () => {
    await withEnv({ REGISTRAR_DATA_DIR: dataDir }, async () => {
      const { appId } = await insertApp({ environments: { production: { redirectUris: ['https://app.example.com/callback'] } } });
      const reg = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
      const ratBefore = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'registration_access_token'))!;

      const error = await whileCredentialsRefused(reg.registrationId, () =>
        updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_name: 'Renamed' } }).then(
          () => null,
          (e: unknown) => e,
        ),
      );
      expect(isAppError(error) && error.code).toBe('NEEDS_RECOVERY');
      const message = (error as Error).message;
      expect(message).toMatch(/kept encrypted in .*recovery.*management-.*\.json\. Run `npm run recover`/);
      const files = fs.readdirSync(path.join(dataDir, 'recovery')).filter((n) => n.startsWith('management-'));
      expect(files).toHaveLength(1);
      // Still the old (now dead) token in the vault; the new one is only in the file, sealed.
      expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'registration_access_token'))!.id).toBe(ratBefore.id);
      const fileText = fs.readFileSync(path.join(dataDir, 'recovery', files[0]!), 'utf8');
      expect(fileText).not.toContain(ratBefore.plaintext);

      const result = await importRecoveryFiles();
      expect(result).toEqual({ imported: 1, failed: 0 });
      const ratAfter = (await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'registration_access_token'))!;
      expect(ratAfter.plaintext).not.toBe(ratBefore.plaintext);
      expect(fileText).not.toContain(ratAfter.plaintext);
      // The recovered token is the live one: the hospital answers with it.
      const refreshed = await refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId });
      expect(refreshed.registrationId).toBe(reg.registrationId);
      const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.targetId, reg.registrationId), eq(auditLog.action, 'registration.credentials_recovered')));
      expect(audit?.details).toMatchObject({ op: 'update', rotated: ['registration_access_token'] });
      // A second import finds nothing left to do.
      expect(await importRecoveryFiles()).toEqual({ imported: 0, failed: 0 });
    });
  });
});

describe('an old recovery file imported after a newer credential was stored', () => {
  it('leaves the newer credential current: importing late never brings back a replaced one', async () => {
    await withEnv({ REGISTRAR_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-stale-recovery-')) }, async () => {
      const { appId } = await insertApp({ environments: { production: { redirectUris: ['https://app.example.com/callback'] } } });
      const reg = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
      await writeManagementRecoveryFile({ registrationId: reg.registrationId, clientId: reg.clientId, op: 'update', rat: 'rat-in-the-file', secret: 'secret-in-the-file', secretExpiresAt: null, actor: 'test' });
      // Meanwhile a later answer was stored (the rotation's read at the hospital, or a later rotation).
      await getDb().transaction(async (tx) => {
        await storeCredential(tx, { ownerType: 'registration', ownerId: reg.registrationId, kind: 'client_secret', plaintext: 'newer-secret', expiresAt: null });
        await storeCredential(tx, { ownerType: 'registration', ownerId: reg.registrationId, kind: 'registration_access_token', plaintext: 'newer-rat' });
      });

      expect(await importRecoveryFiles()).toEqual({ imported: 1, failed: 0 });
      expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!.plaintext).toBe('newer-secret');
      expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'registration_access_token'))!.plaintext).toBe('newer-rat');
      const recovered = await getDb().select().from(auditLog).where(and(eq(auditLog.targetId, reg.registrationId), eq(auditLog.action, 'registration.credentials_recovered')));
      expect(recovered).toHaveLength(0);
    });
  });
});
