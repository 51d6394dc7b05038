import 'server-only';
import { randomUUID } from 'node:crypto';
import { renameSync } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrationOperations, registrations } from '@/db/schema';
import { systemActor } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { readCurrentCredential, storeCredential } from '@/lib/credentials/store';
import { currentKey, openSecret, rewrapEnvelope, sealSecret } from '@/lib/credentials/vault';
import { createFileDurably, fsyncDir, writeTemp } from '@/lib/durable-file';
import { env } from '@/lib/env';
import { persistRegistration, type PersistInput } from './persist';

/** Everything needed to store the registration later, exactly as the failed persist had it. */
type RecoveryPayload = Omit<PersistInput, 'attempts'> & { actor: string; kind?: 'registration' };

/**
 * What an RFC 7592 answer (read or update) carried that Registrar could not store: the new
 * registration access token (the old one is dead) and/or the new secret, for one registration.
 */
export type ManagementRecoveryPayload = {
  kind: 'management';
  registrationId: string;
  clientId: string;
  op: string;
  rat: string | null;
  secret: string | null;
  secretExpiresAt: string | null;
  actor: string;
  /**
   * When the file was written. A credential stored after it (a rotation's read at the hospital that
   * recovered the same answer, or a later rotation) is newer than the file's: the import leaves it.
   * Absent in files written before this field existed.
   */
  writtenAt?: string;
};

export function recoveryDir(): string {
  return path.resolve(env().REGISTRAR_DATA_DIR, 'recovery');
}

const aadFor = (fileId: string) => `recovery-file:${fileId}`;

/**
 * The last line of defence when the database refuses a registration the hospital accepted:
 * the whole answer, encrypted by the vault (the file name is bound as authenticated data).
 */
export async function writeRecoveryFile(payload: RecoveryPayload, dir = recoveryDir()): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const fileId = `${payload.operationId}-${randomUUID().slice(0, 8)}`;
  const envelope = sealSecret(JSON.stringify(payload), aadFor(fileId));
  const file = path.join(dir, `${fileId}.json`);
  // Complete and on disk before it appears under its name: a crash must not leave a truncated file
  // that the operation points to while the database row says "needs recovery".
  createFileDurably(file, JSON.stringify({ fileId, envelope }), 0o600);
  return path.relative(process.cwd(), file);
}

/**
 * The same last line of defence for an RFC 7592 answer whose new credentials the database refused
 * (lib/registrations/manage/shared.ts persistIssuedCredentials): `npm run recover` stores them.
 */
export async function writeManagementRecoveryFile(payload: Omit<ManagementRecoveryPayload, 'kind' | 'writtenAt'>, dir = recoveryDir()): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const fileId = `${MANAGEMENT_PREFIX}${payload.registrationId}-${randomUUID().slice(0, 8)}`;
  const envelope = sealSecret(JSON.stringify({ kind: 'management', ...payload, writtenAt: new Date().toISOString() } satisfies ManagementRecoveryPayload), aadFor(fileId));
  const file = path.join(dir, `${fileId}.json`);
  createFileDurably(file, JSON.stringify({ fileId, envelope }), 0o600);
  return path.relative(process.cwd(), file);
}

const MANAGEMENT_PREFIX = 'management-';

/**
 * Stores a management answer's credentials as current (old → previous), each only if it is not
 * already the current one (a second import changes nothing) and the current one is not newer than
 * the file (importing an old file must not bring back a replaced credential), with an audit row,
 * in one transaction.
 */
async function importManagementAnswer(payload: ManagementRecoveryPayload): Promise<string[]> {
  const actor = systemActor(`recover (for ${payload.actor})`);
  const writtenAt = payload.writtenAt ? new Date(payload.writtenAt) : null;
  return getDb().transaction(async (tx) => {
    const wanted = async (kind: 'registration_access_token' | 'client_secret', value: string | null) => {
      if (!value) return false;
      const current = await readCurrentCredential(tx, 'registration', payload.registrationId, kind);
      if (current?.plaintext === value) return false;
      return !(current && writtenAt && current.createdAt > writtenAt);
    };
    const stored: string[] = [];
    if (await wanted('registration_access_token', payload.rat)) {
      await storeCredential(tx, { ownerType: 'registration', ownerId: payload.registrationId, kind: 'registration_access_token', plaintext: payload.rat! });
      stored.push('registration_access_token');
    }
    if (payload.secret && (await wanted('client_secret', payload.secret))) {
      const expiresAt = payload.secretExpiresAt ? new Date(payload.secretExpiresAt) : null;
      await storeCredential(tx, { ownerType: 'registration', ownerId: payload.registrationId, kind: 'client_secret', plaintext: payload.secret, expiresAt });
      await tx.update(registrations).set({ secretExpiryKind: expiresAt ? 'at' : 'unknown', secretExpiresAt: expiresAt, lastRotatedAt: new Date(), updatedAt: new Date() }).where(eq(registrations.id, payload.registrationId));
      stored.push('client_secret');
    }
    if (stored.length) {
      await recordAudit(tx, actor, { action: 'registration.credentials_recovered', targetType: 'registration', targetId: payload.registrationId, details: { op: payload.op, clientId: payload.clientId, rotated: stored } });
    }
    return stored;
  });
}

/** Imports every pending recovery file (idempotent: a registration already stored is not duplicated). */
export async function importRecoveryFiles(log: (line: string) => void = () => {}): Promise<{ imported: number; failed: number }> {
  const dir = recoveryDir();
  const names = await readdir(dir).catch(() => [] as string[]);
  let imported = 0;
  let failed = 0;
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = path.join(dir, name);
    try {
      const { fileId, envelope } = JSON.parse(await readFile(file, 'utf8')) as { fileId: string; envelope: Parameters<typeof openSecret>[0] };
      // The name is what the envelope is bound to: a renamed copy is not imported a second time.
      if (`${fileId}.json` !== name) throw new Error('the file name does not match the answer it holds');
      const opened = JSON.parse(openSecret(envelope, aadFor(fileId))) as RecoveryPayload | ManagementRecoveryPayload;
      if (opened.kind === 'management') {
        const stored = await importManagementAnswer(opened);
        await mkdir(path.join(dir, 'imported'), { recursive: true, mode: 0o700 });
        await rename(file, path.join(dir, 'imported', name));
        log(`imported ${name}: client ${opened.clientId} → ${stored.length ? stored.join(' and ').replace(/_/g, ' ') : 'nothing new'} stored for registration ${opened.registrationId}`);
        imported++;
        continue;
      }
      const payload = opened;
      payload.response.clientIdIssuedAt = payload.response.clientIdIssuedAt ? new Date(payload.response.clientIdIssuedAt) : null;
      if (payload.response.secretExpiry.kind === 'at') payload.response.secretExpiry = { kind: 'at', at: new Date(payload.response.secretExpiry.at) };
      const actor = systemActor(`recover (for ${payload.actor})`);
      const registrationId = await persistRegistration(actor, { ...payload, audit: { ...payload.audit, action: 'registration.recover' } });
      await getDb().update(registrationOperations).set({ status: 'succeeded', registrationId, error: null, updatedAt: new Date() }).where(eq(registrationOperations.id, payload.operationId));
      await mkdir(path.join(dir, 'imported'), { recursive: true, mode: 0o700 });
      await rename(file, path.join(dir, 'imported', name));
      log(`imported ${name}: client ${payload.response.clientId} → registration ${registrationId}`);
      imported++;
    } catch (error) {
      failed++;
      log(`could not import ${name}: ${error instanceof Error ? error.name : 'error'} ${(error as { code?: string }).code ?? ''}`);
    }
  }
  return { imported, failed };
}

/** The recovery file waiting for a registration operation, relative to the working directory, or null. */
export async function findRecoveryFile(operationId: string): Promise<string | null> {
  const names = await readdir(recoveryDir()).catch(() => [] as string[]);
  const name = names.find((n) => n.startsWith(`${operationId}-`) && n.endsWith('.json'));
  return name ? path.relative(process.cwd(), path.join(recoveryDir(), name)) : null;
}

/** A management answer's recovery file waiting for this registration, relative to the working directory, or null. */
export async function findManagementRecoveryFile(registrationId: string): Promise<string | null> {
  const names = await readdir(recoveryDir()).catch(() => [] as string[]);
  const name = names.find((n) => n.startsWith(`${MANAGEMENT_PREFIX}${registrationId}-`) && n.endsWith('.json'));
  return name ? path.relative(process.cwd(), path.join(recoveryDir(), name)) : null;
}

/** Recovery files waiting to be imported. */
export async function pendingRecoveryFileCount(): Promise<number> {
  return (await readdir(recoveryDir()).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).length;
}

/**
 * keys:rotate for the recovery files still waiting to be imported: each one's data key is wrapped
 * again under the current key-encryption key (the file replaced atomically), so removing the old
 * key never makes a pending answer unreadable. A file that cannot be opened is reported, untouched.
 */
export async function rewrapRecoveryFiles(): Promise<{ pending: number; rewrapped: number; failed: string[] }> {
  const dir = recoveryDir();
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  const { kid, kv } = currentKey();
  let rewrapped = 0;
  const failed: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const { fileId, envelope } = JSON.parse(await readFile(file, 'utf8')) as { fileId: string; envelope: Parameters<typeof openSecret>[0] & { kid?: string; kv?: number } };
      if (envelope.kid === kid && envelope.kv === kv) continue;
      const tmp = writeTemp(file, JSON.stringify({ fileId, envelope: rewrapEnvelope(envelope, aadFor(fileId)) }), 0o600);
      renameSync(tmp, file);
      fsyncDir(dir);
      rewrapped++;
    } catch (error) {
      failed.push(`${name}: ${error instanceof Error ? error.name : 'error'} ${(error as { code?: string }).code ?? ''}`.trim());
    }
  }
  return { pending: names.length, rewrapped, failed };
}
