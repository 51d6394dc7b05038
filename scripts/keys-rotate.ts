/**
 * npm run keys:rotate [-- --new-key-file-entry] [--dry-run] [--batch-size N]
 *
 * Re-wraps every stored credential's data key under the current key-encryption key, and those of
 * the recovery files waiting for `npm run recover`. The secrets themselves are not re-encrypted. Safe to stop at any point and to run again: finished rows are
 * not touched, and a run with nothing to do says "0 to rewrap".
 *
 * With a key file (REGISTRAR_KEY_FILE): `--new-key-file-entry` adds a new key, makes it current,
 * keeps the old ones, then re-wraps (it creates the file when it does not exist yet). It refuses
 * while an earlier rotation is unfinished: resume that one by running again without the flag.
 * With REGISTRAR_KEY: move the old key into REGISTRAR_PREVIOUS_KEYS, set a new REGISTRAR_KEY
 * (`openssl rand -base64 32`), then run this.
 * Remove an old key only after every Registrar instance runs with the new one and a run of this
 * command reports "0 to rewrap".
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { closeDb } from '@/db/client';
import { addKeyToFile, createKeyFile } from '@/lib/credentials/keyring';
import { pendingRewrapSummary, rewrapCredentials } from '@/lib/credentials/store';
import { resetVaultCache, vaultStatus } from '@/lib/credentials/vault';
import { env } from '@/lib/env';
import { isAppError } from '@/lib/errors';
import { pendingRecoveryFileCount, rewrapRecoveryFiles } from '@/lib/registrations/recovery';
import { prepareDatabase } from './lib/launch';

const USAGE = 'Usage: npm run keys:rotate [-- --new-key-file-entry] [--dry-run] [--batch-size N]';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let args: { 'new-key-file-entry'?: boolean; 'dry-run'?: boolean; 'batch-size'?: string; help?: boolean };
try {
  args = parseArgs({
    options: {
      'new-key-file-entry': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'batch-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
}
if (args.help) {
  console.info(USAGE);
  process.exit(0);
}
const batchSize = args['batch-size'] === undefined ? 200 : Number(args['batch-size']);
if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) fail(`--batch-size must be a whole number from 1 to 10000.\n${USAGE}`);
const addKey = Boolean(args['new-key-file-entry']);
const dryRun = Boolean(args['dry-run']);

// Check the key configuration before starting a database.
const keyFile = env().REGISTRAR_KEY_FILE?.trim() || null;
if (addKey) {
  if (env().REGISTRAR_KEY?.trim()) {
    fail(
      'REGISTRAR_KEY is set, so a key file would be ignored. To rotate an environment key: move the current value into REGISTRAR_PREVIOUS_KEYS, set a new REGISTRAR_KEY (`openssl rand -base64 32`), and run `npm run keys:rotate` without --new-key-file-entry.',
    );
  }
  if (!keyFile) fail('--new-key-file-entry needs REGISTRAR_KEY_FILE: the key file to add a key to (it is created if it does not exist).');
  const status = vaultStatus();
  if (status.status !== 'ok' && existsSync(keyFile)) fail(`The key file cannot be used, so no key was added: ${status.message}`);
} else {
  const status = vaultStatus();
  if (status.status !== 'ok') fail(status.message);
}

const db = await prepareDatabase();
let exitCode = 0;
try {
  if (addKey && keyFile && existsSync(keyFile)) {
    // Run again after an interruption, the flag would add yet another key and start over: the
    // unfinished rotation is finished first (the header says "safe to run again" — without the flag).
    const before = await pendingRewrapSummary();
    const unfinished = before.byKey.filter((k) => k.configured).reduce((n, k) => n + k.count, 0);
    if (unfinished > 0) {
      // Thrown to the catch below: the database is stopped cleanly, the exit code is 1.
      throw new Error(
        `A key rotation is unfinished: ${unfinished} stored value${unfinished === 1 ? ' is' : 's are'} still wrapped by an older key of ${keyFile}, so no key was added. Finish it with \`npm run keys:rotate\` (without --new-key-file-entry), then add a new key.`,
      );
    }
  }
  if (addKey && keyFile) {
    if (dryRun) {
      console.info(`Dry run: would add a new key to ${keyFile} and make it current; every credential would then be re-wrapped.`);
    } else {
      if (existsSync(keyFile)) {
        const added = addKeyToFile(keyFile);
        console.info(`Added key ${added.kid} (version ${added.version}) to ${added.path} and made it current; the older keys stay in the file.`);
      } else {
        const created = createKeyFile(keyFile);
        console.info(`Created the key file ${created.path} (0600) with key ${created.kid}.`);
      }
      resetVaultCache();
    }
  }
  const status = vaultStatus();
  console.info(`Key ring: ${status.message}`);

  const summary = await pendingRewrapSummary();
  const to = `${summary.toKey.keyId} (version ${summary.toKey.keyVersion})`;
  const configured = summary.byKey.filter((k) => k.configured);
  const pending = configured.reduce((n, k) => n + k.count, 0);
  for (const k of summary.byKey) {
    console.info(`  ${k.count} under ${k.keyId} (version ${k.keyVersion})${k.configured ? '' : ' — this key is NOT configured: these cannot be opened or re-wrapped'}`);
  }

  if (dryRun) {
    console.info(`Dry run: ${pending} to rewrap → ${to}. Nothing was changed.`);
  } else if (pending === 0) {
    console.info(`0 to rewrap: every credential that can be opened is wrapped by ${to}.`);
  } else {
    console.info(`${pending} to rewrap → ${to}, in batches of ${batchSize}.`);
    const result = await rewrapCredentials({
      batchSize,
      onProgress: (p) => console.info(`rewrapped ${p.rewrapped}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}`),
    });
    console.info(`Done: ${result.rewrapped} rewrapped.`);
    for (const f of result.failed) console.error(`  could not rewrap credential ${f.id}: ${f.code}: ${f.message}`);
    if (result.remaining > 0) {
      console.error(`${result.remaining} credential(s) are still not under ${to} (see above, or locked by a running transaction: run again).`);
    }
  }

  // Answers waiting in recovery files are sealed by the vault too: re-wrapped with the rest.
  if (dryRun) {
    const files = await pendingRecoveryFileCount();
    if (files) console.info(`Dry run: ${files} pending recovery file(s) would be re-wrapped → ${to}.`);
  } else {
    const files = await rewrapRecoveryFiles();
    if (files.pending) console.info(`Recovery files: ${files.rewrapped} re-wrapped → ${to}, ${files.pending - files.rewrapped - files.failed.length} already under it (import them with \`npm run recover\`).`);
    for (const f of files.failed) console.error(`  could not re-wrap recovery file ${f}`);
    if (files.failed.length) exitCode = 1;
  }

  const unconfigured = summary.byKey.filter((k) => !k.configured);
  if (unconfigured.length) {
    exitCode = 1;
    console.error(
      `${unconfigured.reduce((n, k) => n + k.count, 0)} credential(s) are wrapped by keys that are not configured (${unconfigured.map((k) => k.keyId).join(', ')}). Add those keys to REGISTRAR_PREVIOUS_KEYS or the key file and run again.`,
    );
  }
  if (!dryRun) {
    const after = await pendingRewrapSummary();
    if (after.total > 0) exitCode = 1;
  }
} catch (error) {
  exitCode = 1;
  console.error(isAppError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error));
} finally {
  await closeDb();
  await db.stop();
}
process.exit(exitCode);
