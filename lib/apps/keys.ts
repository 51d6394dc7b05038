import 'server-only';
import { and, asc, eq, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { appKeys, type AppKey } from '@/db/schema';
import { readCurrentCredential, storeCredential } from '@/lib/credentials/store';
import { generateClientKeyPair } from '@/lib/oauth/registration';

type Purpose = AppKey['purpose'];

/**
 * The app's active signing key for an environment and purpose, generated on first use. The private
 * key goes into the vault in the same transaction as the key row; an advisory lock keeps two
 * concurrent first uses from generating two keys.
 */
export async function ensureAppKey(appId: string, environment: string, purpose: Purpose, alg: 'RS384' | 'ES384'): Promise<Pick<AppKey, 'id' | 'kid' | 'alg' | 'publicJwk'>> {
  const existing = await findActiveKey(appId, environment, purpose, alg);
  if (existing) return existing;
  const generated = await generateClientKeyPair(alg);
  return getDb().transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`app-key:${appId}:${environment}:${purpose}:${alg}`}))`);
    const [again] = await tx
      .select({ id: appKeys.id, kid: appKeys.kid, alg: appKeys.alg, publicJwk: appKeys.publicJwk })
      .from(appKeys)
      .where(and(eq(appKeys.appId, appId), eq(appKeys.environment, environment), eq(appKeys.purpose, purpose), eq(appKeys.alg, alg), eq(appKeys.state, 'active')))
      .limit(1);
    if (again) return again;
    const [row] = await tx
      .insert(appKeys)
      .values({ appId, environment, purpose, kid: generated.kid, alg, publicJwk: generated.publicJwk as Record<string, unknown> })
      .returning({ id: appKeys.id, kid: appKeys.kid, alg: appKeys.alg, publicJwk: appKeys.publicJwk });
    await storeCredential(tx, { ownerType: 'app_key', ownerId: row!.id, kind: 'private_key', plaintext: generated.privateKeyPkcs8Pem });
    return row!;
  });
}

async function findActiveKey(appId: string, environment: string, purpose: Purpose, alg: string) {
  const [row] = await getDb()
    .select({ id: appKeys.id, kid: appKeys.kid, alg: appKeys.alg, publicJwk: appKeys.publicJwk })
    .from(appKeys)
    .where(and(eq(appKeys.appId, appId), eq(appKeys.environment, environment), eq(appKeys.purpose, purpose), eq(appKeys.alg, alg), eq(appKeys.state, 'active')))
    .orderBy(asc(appKeys.createdAt))
    .limit(1);
  return row ?? null;
}

/** The private key of an app key, for signing (client assertions, software statements). Internal only. */
export async function readAppPrivateKey(appKeyId: string): Promise<string> {
  const credential = await readCurrentCredential(getDb(), 'app_key', appKeyId, 'private_key');
  if (!credential) throw new Error(`No private key stored for app key ${appKeyId}`);
  return credential.plaintext;
}
