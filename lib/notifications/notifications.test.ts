import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser, uniqueSuffix } from '@/db/factories';
import { appCertificates, appCredentialStates, appKeys, apps, appSettings, credentials, expiryStates, healthSystems, notificationDeliveries, registrations as registrationsTable } from '@/db/schema';
import { readCredentialById } from '@/lib/credentials/store';
import { env } from '@/lib/env';
import { ensureAppKey } from '@/lib/apps/keys';
import { makeUdapPki } from '@/lib/apps/testing/udap-pki';
import { uploadUdapCertificate } from '@/lib/apps/udap';
import { appCredentialChangePayload, runAppCredentialMonitor } from './app-credentials';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addSandboxIssuer } from '@/test/support/issuers';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { registerApp } from '@/lib/registrations/register';
import { retryRotation, startRotation } from '@/lib/rotation/run';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { buildDailyDigest, enqueueDailyDigest } from './digest';
import { deliverPendingNotifications, enqueueNotification } from './deliver';
import { EXPIRY_TEXT_LINES, expiryChangePayload, monitorStateOf, runExpiryMonitor } from './monitor';
import { listNotificationDeliveries, retryNotificationDelivery, sendTestNotification } from './queries';
import { getWebhookSettings, readWebhookConfig, setWebhookSettings } from './settings';
import { getSetting, putSetting } from '@/lib/settings/store';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T12:00:00Z');
const after = (ms: number) => new Date(NOW.getTime() + ms);

describe('expiry states', () => {
  it.each([
    ['40 days left', 'at', after(40 * DAY), { state: 'ok', thresholdDays: null }],
    ['30 days left', 'at', after(30 * DAY), { state: 'expiring', thresholdDays: 30 }],
    ['6 days left', 'at', after(6 * DAY), { state: 'expiring', thresholdDays: 7 }],
    ['12 hours left', 'at', after(DAY / 2), { state: 'expiring', thresholdDays: 1 }],
    ['expired a second ago', 'at', after(-1000), { state: 'expired', thresholdDays: null }],
    ['client_secret_expires_at 0', 'never', null, { state: 'never', thresholdDays: null }],
    ['no client_secret_expires_at', 'unknown', null, { state: 'unknown', thresholdDays: null }],
  ] as const)('%s', (_label, kind, at, expected) => {
    expect(monitorStateOf(kind, at, NOW, [1, 7, 30])).toEqual(expected);
  });

  it('a client without a secret is not monitored', () => {
    expect(monitorStateOf('none', null, NOW, [1, 7, 30])).toBeNull();
  });
});

/** A Slack-like incoming webhook on loopback that records every body and answers as told. */
type Receiver = { origin: string; bodies: string[]; paths: string[]; statuses: number[]; delayMs: number; close: () => Promise<void> };
async function startReceiver(): Promise<Receiver> {
  const bodies: string[] = [];
  const paths: string[] = [];
  const statuses: number[] = [];
  const self = { delayMs: 0 };
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      const status = statuses.shift() ?? 200;
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 200 ? 'ok' : 'error');
      }, self.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(self, { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, paths, statuses, close: () => new Promise<void>((r) => server.close(() => r())) });
}

let sandbox: Sandbox;
let receiver: Receiver;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;
const registrationIds: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  receiver = await startReceiver();
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  for (const origin of [sandbox.general.origin, receiver.origin]) await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  const system = await createHealthSystem(ops.actor, { name: `Notify ${uniqueSuffix()}` });
  issuerId = (await addSandboxIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.fhirBase, environment: 'sandbox' })).id;
  // A secret Registrar should be able to put in a message if it were careless: the webhook's own path token.
  await setWebhookSettings(admin.actor, { url: `${receiver.origin}/services/T000/B000/${randomUUID()}`, enabled: true });
});

afterAll(async () => {
  await setWebhookSettings(admin.actor, { url: '', clear: true });
  await sandbox.stop();
  await receiver.close();
  await closeDb();
});

beforeEach(async () => {
  receiver.bodies.length = 0;
  receiver.statuses.length = 0;
  // Earlier tests' deliveries do not interfere with this one's.
  await getDb().update(notificationDeliveries).set({ status: 'delivered' }).where(eq(notificationDeliveries.status, 'pending'));
});

async function registerAtGeneral() {
  const { appId } = await insertApp({ environments: { production: { grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read' } } });
  const reg = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
  registrationIds.push(reg.registrationId);
  return reg;
}

/**
 * Makes queuing a notification that mentions this registration fail (a trigger), as a database
 * failure would; others pass, so test files running at the same time are not affected.
 */
async function refuseNotificationsAbout(registrationId: string) {
  const name = `refuse_${registrationId.replace(/-/g, '')}`;
  await getDb().execute(sql.raw(`create function ${name}() returns trigger language plpgsql as $$ begin if new.payload::text like '%${registrationId}%' then raise exception 'notifications refused'; end if; return new; end $$`));
  await getDb().execute(sql.raw(`create trigger ${name} before insert on notification_deliveries for each row execute function ${name}()`));
}

async function allowNotificationsAbout(registrationId: string) {
  const name = `refuse_${registrationId.replace(/-/g, '')}`;
  await getDb().execute(sql.raw(`drop trigger ${name} on notification_deliveries; drop function ${name}()`));
}

/**
 * An issuer of its own with `n` registrations whose client secrets expire at `expiresAt`, written
 * directly (the monitor reads only the rows), so that runs limited to the issuer see only them.
 */
async function insertExpiringRegistrations(n: number, expiresAt: Date, names: { hospital?: string; app?: string; clientId?: string } = {}) {
  const { issuerId, healthSystemId } = await insertIssuer({ registrationEndpoint: 'https://as.example.com/register' });
  const { appId } = await insertApp({ environments: { production: {} } });
  if (names.hospital) await getDb().update(healthSystems).set({ name: names.hospital }).where(eq(healthSystems.id, healthSystemId));
  if (names.app) await getDb().update(apps).set({ name: names.app }).where(eq(apps.id, appId));
  const rows = await getDb()
    .insert(registrationsTable)
    .values(
      Array.from({ length: n }, (_, i) => ({
        issuerId,
        appId,
        appVersion: 1,
        environment: 'production',
        clientId: names.clientId && i === 0 ? names.clientId : `client-${uniqueSuffix()}`,
        authMethod: 'client_secret_basic',
        requestedMetadata: {},
        registeredMetadata: {},
        secretExpiryKind: 'at' as const,
        secretExpiresAt: expiresAt,
      })),
    )
    .returning({ id: registrationsTable.id, clientId: registrationsTable.clientId });
  return { issuerId, registrations: rows, ids: rows.map((r) => r.id) };
}

/** The expiry notifications queued that mention any of these ids. */
async function expiryNotificationsAbout(ids: readonly string[]) {
  const rows = await getDb().select().from(notificationDeliveries).where(inArray(notificationDeliveries.kind, ['expiry_change']));
  return rows.filter((r) => ids.some((id) => JSON.stringify(r.payload).includes(id)));
}

/** The bodies the receiver got that mention any of these ids. */
const bodiesAbout = (ids: readonly string[]) => receiver.bodies.filter((b) => ids.some((id) => b.includes(id)));

async function switchWebhook(enabled: boolean) {
  await setWebhookSettings(admin.actor, { url: '', enabled });
}

describe('the expiry webhook', () => {
  it('notifies state changes (30 → 7 → 1 days → expired) with a Slack-compatible text, once each', async () => {
    const reg = await registerAtGeneral();
    const first = await runExpiryMonitor({ issuerId });
    const mine = first.changes.filter((c) => c.registrationId === reg.registrationId);
    expect(mine).toEqual([expect.objectContaining({ credential: 'client_secret', from: null, to: 'expiring', thresholdDays: 30, clientId: reg.clientId })]);
    expect(await deliverPendingNotifications()).toMatchObject({ delivered: 1, failed: 0 });
    const body = JSON.parse(receiver.bodies.at(-1)!) as { text: string; changes: Array<{ registrationId: string }> };
    expect(body.text).toMatch(/^Registrar: credential expiry changed/);
    // Other test files' registrations change state in the same run (a shared database); the text
    // lists 25, the structured changes all of them.
    expect(body.changes.some((c) => c.registrationId === reg.registrationId)).toBe(true);
    expect(expiryChangePayload(mine).text).toContain(`client ${reg.clientId}: client secret expires within 30 days`);

    // Nothing changed: nothing is sent.
    expect((await runExpiryMonitor({ issuerId })).changes.filter((c) => c.registrationId === reg.registrationId)).toEqual([]);

    const expiresAt = (await getDb().select({ e: credentials.expiresAt }).from(credentials).where(and(inArray(credentials.ownerId, [reg.registrationId]), eq(credentials.kind, 'client_secret'))))[0]!.e!;
    const steps = [
      [new Date(expiresAt.getTime() - 6 * DAY), 'expiring', 7],
      [new Date(expiresAt.getTime() - DAY / 2), 'expiring', 1],
      [new Date(expiresAt.getTime() + 1000), 'expired', null],
    ] as const;
    for (const [now, state, threshold] of steps) {
      const run = await runExpiryMonitor({ now, issuerId });
      expect(run.changes.filter((c) => c.registrationId === reg.registrationId)).toEqual([expect.objectContaining({ to: state, thresholdDays: threshold })]);
    }
    await deliverPendingNotifications();
    expect(receiver.bodies.length).toBe(4);
    expect(receiver.bodies.at(-1)).toContain('has EXPIRED');
  });

  it('saves a new expiry state only with its notification: when queuing fails, the next run finds the change again', async () => {
    const reg = await registerAtGeneral();
    await refuseNotificationsAbout(reg.registrationId);
    try {
      await expect(runExpiryMonitor({ issuerId })).rejects.toThrow();
    } finally {
      await allowNotificationsAbout(reg.registrationId);
    }
    const run = await runExpiryMonitor({ issuerId });
    expect(run.changes.filter((c) => c.registrationId === reg.registrationId)).toEqual([expect.objectContaining({ to: 'expiring', thresholdDays: 30 })]);
    expect(run.notificationId).not.toBeNull();
    await deliverPendingNotifications();
  });

  it('one monitor run queues one webhook whatever the number of batches, listing the worst 25 in its text and how many more', async () => {
    const { issuerId: own, ids } = await insertExpiringRegistrations(30, after(20 * DAY));
    const run = await runExpiryMonitor({ issuerId: own, batchSize: 7, now: NOW });
    expect(run.checked).toBe(30);
    expect(run.changes).toHaveLength(30);
    const queued = await expiryNotificationsAbout(ids);
    expect(queued.map((q) => q.id)).toEqual([run.notificationId]);
    expect(queued[0]!.payload).toMatchObject({ changeCount: 30 });
    expect(queued[0]!.payload.changes).toHaveLength(30);

    await deliverPendingNotifications();
    const bodies = bodiesAbout(ids);
    expect(bodies).toHaveLength(1);
    const lines = (JSON.parse(bodies[0]!) as { text: string }).text.split('\n');
    expect(lines[0]).toBe('Registrar: credential expiry changed for 30 credential(s)');
    expect(lines.filter((l) => l.startsWith('• '))).toHaveLength(EXPIRY_TEXT_LINES);
    expect(lines.at(-1)).toBe(`…and ${30 - EXPIRY_TEXT_LINES} more (see Registrar).`);

    // Stored with the notification: the next run has nothing to tell.
    expect(await runExpiryMonitor({ issuerId: own, batchSize: 7, now: NOW })).toMatchObject({ changes: [], notificationId: null });
  });

  it('a run that cannot queue its notification stores none of its batches\' states: the next run reports every change in one message', async () => {
    const { issuerId: own, ids } = await insertExpiringRegistrations(12, after(20 * DAY));
    // The last batch's registration (the monitor goes by id): earlier batches pass the trigger.
    const last = [...ids].sort().at(-1)!;
    await refuseNotificationsAbout(last);
    try {
      await expect(runExpiryMonitor({ issuerId: own, batchSize: 5, now: NOW })).rejects.toThrow();
    } finally {
      await allowNotificationsAbout(last);
    }
    expect(await getDb().select().from(expiryStates).where(inArray(expiryStates.registrationId, ids))).toEqual([]);
    expect(await expiryNotificationsAbout(ids)).toEqual([]);

    const run = await runExpiryMonitor({ issuerId: own, batchSize: 5, now: NOW });
    expect(run.changes).toHaveLength(12);
    const queued = await expiryNotificationsAbout(ids);
    expect(queued).toHaveLength(1);
    expect(queued[0]!.payload).toMatchObject({ changeCount: 12 });
    expect(await getDb().select().from(expiryStates).where(inArray(expiryStates.registrationId, ids))).toHaveLength(12);
  });

  it('two monitor runs that read the same states before either stores them report each change exactly once', async () => {
    const { issuerId: own, ids } = await insertExpiringRegistrations(8, after(20 * DAY));
    type Run = Awaited<ReturnType<typeof runExpiryMonitor>>;
    let runs: Array<Promise<Run>> = [];
    // Reads pass a SHARE lock, writes wait for it: both runs have read every state when it goes.
    await getDb().transaction(async (tx) => {
      await tx.execute(sql`lock table expiry_states in share mode`);
      // A minute apart: the event key (minute and changes) does not merge their notifications.
      runs = [runExpiryMonitor({ issuerId: own, now: NOW }), runExpiryMonitor({ issuerId: own, now: new Date(NOW.getTime() + 60_000) })];
      for (let waited = 0; ; waited += 20) {
        const { rows } = await getDb().execute<{ n: number }>(
          sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%into expiry_states%'`,
        );
        if (rows[0]!.n >= 2) break;
        if (waited > 10_000) throw new Error('the runs never waited for the lock');
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const [a, b] = await Promise.all(runs);
    expect(a!.changes.length + b!.changes.length).toBe(8);
    const queued = await expiryNotificationsAbout(ids);
    for (const id of ids) expect(queued.filter((q) => JSON.stringify(q.payload).includes(id))).toHaveLength(1);
  });

  it('changes made while the webhook is off are reported once it is on again, in one message from the state last notified to the current one', async () => {
    const expiresAt = after(40 * DAY);
    const { issuerId: own, ids, registrations: [reg] } = await insertExpiringRegistrations(1, expiresAt);
    const at = (ms: number) => new Date(expiresAt.getTime() + ms);
    expect((await runExpiryMonitor({ issuerId: own, now: at(-20 * DAY) })).changes).toEqual([expect.objectContaining({ to: 'expiring', thresholdDays: 30 })]);
    await deliverPendingNotifications();
    expect(bodiesAbout(ids)).toHaveLength(1);

    // A weekend without the webhook: 7 days left, then expired.
    await switchWebhook(false);
    try {
      for (const now of [at(-5 * DAY), at(1000)]) expect(await runExpiryMonitor({ issuerId: own, now })).toMatchObject({ changes: [], notificationId: null });
      expect(await getDb().select({ state: expiryStates.state, thresholdDays: expiryStates.thresholdDays }).from(expiryStates).where(eq(expiryStates.registrationId, reg!.id))).toEqual([
        { state: 'expiring', thresholdDays: 30 },
      ]);
    } finally {
      await switchWebhook(true);
    }

    const back = await runExpiryMonitor({ issuerId: own, now: at(2000) });
    expect(back.changes).toEqual([expect.objectContaining({ registrationId: reg!.id, from: 'expiring', to: 'expired', thresholdDays: null })]);
    expect(back.notificationId).not.toBeNull();
    await deliverPendingNotifications();
    const bodies = bodiesAbout(ids);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toContain('has EXPIRED');
    expect(bodies.join('\n')).not.toContain('within 7 days');
    expect((await runExpiryMonitor({ issuerId: own, now: at(3000) })).changes).toEqual([]);
  });

  it('escapes names and client ids for Slack in the text (&, <, >) and keeps them as given in the structured changes', async () => {
    const hospital = `Mercy <!channel> & Co ${uniqueSuffix()}`;
    const app = `Portal <https://evil.example|click> ${uniqueSuffix()}`;
    const clientId = `c<@U0123>&${uniqueSuffix()}`;
    const { issuerId: own, ids } = await insertExpiringRegistrations(1, after(20 * DAY), { hospital, app, clientId });
    const run = await runExpiryMonitor({ issuerId: own, now: NOW });
    await deliverPendingNotifications();
    const [body] = bodiesAbout(ids);
    const sent = JSON.parse(body!) as { text: string; changes: Array<{ hospital: string; app: string; clientId: string }> };
    const esc = (v: string) => v.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    expect(sent.text).toContain(`• ${esc(hospital)} · ${esc(app)} (production) · client ${esc(clientId)}: client secret expires within 30 days`);
    expect(sent.text).not.toMatch(/<!channel>|<@U0123>|<https:/);
    expect(sent.changes[0]).toMatchObject({ hospital, app, clientId });
    // Settings shows the text as the channel does.
    const listed = (await listNotificationDeliveries(admin.actor)).find((d) => d.id === run.notificationId);
    expect(listed?.text).toContain(`• ${hospital} · ${app} (production) · client ${clientId}:`);
  });

  it('a delivery answered 500 is retried and then delivered', async () => {
    receiver.statuses.push(500);
    const id = await enqueueNotification('test', `test:${randomUUID()}`, { text: 'retry me' });
    expect(await deliverPendingNotifications({ backoffSeconds: 0 })).toMatchObject({ retried: 1 });
    const [pending] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id!));
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 500, lastError: 'The webhook answered HTTP 500.' });
    expect(await deliverPendingNotifications({ backoffSeconds: 0 })).toMatchObject({ delivered: 1 });
    const [delivered] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id!));
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200 });
    expect(receiver.bodies).toHaveLength(2);
  });

  it('after the last attempt a delivery is failed and listed in Settings, where an admin can send it again', async () => {
    receiver.statuses.push(500, 500, 500);
    const id = await enqueueNotification('test', `test:${randomUUID()}`, { text: 'will fail' });
    await deliverPendingNotifications({ backoffSeconds: 0, maxAttempts: 2 });
    await deliverPendingNotifications({ backoffSeconds: 0, maxAttempts: 2 });
    const failures = await listNotificationDeliveries(admin.actor, { failedOnly: true });
    expect(failures.find((f) => f.id === id)).toMatchObject({ status: 'failed', attempts: 2, lastStatus: 500, destination: receiver.origin });
    expect(JSON.stringify(failures)).not.toContain('/services/T000');
    await expect(listNotificationDeliveries(ops.actor)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    receiver.statuses.length = 0;
    await retryNotificationDelivery(admin.actor, { id: id! });
    const [row] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id!));
    expect(row?.status).toBe('delivered');
    // Delivered: "retry" would post it to the channel a second time, so it is refused.
    const sent = receiver.bodies.length;
    await expect(retryNotificationDelivery(admin.actor, { id: id! })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(receiver.bodies.length).toBe(sent);
  });

  it('two delivery runs at once share the pending rows and send each exactly once, whatever the webhook\'s speed', async () => {
    receiver.delayMs = 150;
    try {
      const texts = Array.from({ length: 6 }, (_, i) => `shared run ${i} ${randomUUID()}`);
      for (const text of texts) await enqueueNotification('test', `shared:${text}`, { text });
      const [a, b] = await Promise.all([deliverPendingNotifications(), deliverPendingNotifications()]);
      expect(a.delivered + b.delivered).toBe(6);
      // Each run leases one row at a time: neither holds rows it is not sending yet.
      expect(a.delivered).toBeGreaterThan(0);
      expect(b.delivered).toBeGreaterThan(0);
      for (const text of texts) expect(receiver.bodies.filter((body) => body.includes(text))).toHaveLength(1);
    } finally {
      receiver.delayMs = 0;
    }
  });

  it('a webhook on a host that is not allowlisted is refused by the safe outbound fetch, and the failure is recorded', async () => {
    const other = await startReceiver();
    try {
      await setWebhookSettings(admin.actor, { url: `${other.origin}/hook`, enabled: true });
      const id = await enqueueNotification('test', `test:${randomUUID()}`, { text: 'blocked' });
      await deliverPendingNotifications({ maxAttempts: 1 });
      const [row] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id!));
      expect(row).toMatchObject({ status: 'failed', lastStatus: null });
      expect(row?.lastError).toMatch(/^INSECURE_SCHEME|^BLOCKED_ADDRESS/);
      expect(other.bodies).toEqual([]);
    } finally {
      await setWebhookSettings(admin.actor, { url: `${receiver.origin}/services/T000/B000/${randomUUID()}`, enabled: true });
      await other.close();
    }
  });

  it('the daily digest is queued once per day, whichever instance runs it', async () => {
    // A day of its own: a database shared across runs already holds earlier runs' digests.
    const day = new Date(Date.UTC(2040, 0, 1) + Math.floor(Math.random() * 20_000) * 86_400_000 + 9 * 3_600_000);
    const a = await enqueueDailyDigest(day);
    const b = await enqueueDailyDigest(day);
    expect(a).not.toBeNull();
    expect(b).toBeNull();
    await deliverPendingNotifications();
    const digest = JSON.parse(receiver.bodies.at(-1)!) as { text: string; counts: Record<string, unknown> };
    expect(digest.text.startsWith(`Registrar daily digest for ${day.toISOString().slice(0, 10)}`)).toBe(true);
    expect(digest.text).toMatch(/Expiring within 7 days: \d+/);
    expect(digest.counts).toHaveProperty('manualDue');
    expect(digest.text).toMatch(/App keys and UDAP certificates: \d+ expiring, \d+ expired or past their maximum age/);
  });

  it('only admins manage the webhook; the settings never show its path', async () => {
    await expect(setWebhookSettings(ops.actor, { url: 'https://hooks.example.com/x', enabled: true })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const view = await getWebhookSettings(admin.actor);
    expect(view).toEqual({ configured: true, enabled: true, destination: receiver.origin });
    // The URL is write-only: saving without one keeps it (switching it off and on again).
    expect(await setWebhookSettings(admin.actor, { url: '', enabled: false })).toEqual({ configured: true, enabled: false, destination: receiver.origin });
    expect(await enqueueNotification('test', `test:${randomUUID()}`, { text: 'off' })).toBeNull();
    expect(await setWebhookSettings(admin.actor, { url: '', enabled: true })).toEqual(view);
    expect((await sendTestNotification(admin.actor)).id).not.toBeNull();
    expect(receiver.bodies.at(-1)).toContain('Registrar test notification');
  });

  it('keeps the webhook URL in the vault, never in a plain column; one stored in plaintext by an earlier version moves there', async () => {
    const url = `${receiver.origin}/services/T111/B111/${randomUUID()}`;
    await setWebhookSettings(admin.actor, { url, enabled: true });
    const secretPart = new URL(url).pathname;
    const settingRow = await getDb().select().from(appSettings).where(eq(appSettings.key, 'notifications.webhook'));
    expect(JSON.stringify(settingRow)).not.toContain(secretPart);
    expect(settingRow[0]?.value).toEqual({ enabled: true, destination: receiver.origin });
    const sealed = await getDb().select().from(credentials).where(and(eq(credentials.ownerType, 'settings'), eq(credentials.kind, 'webhook_url'), eq(credentials.state, 'current')));
    expect(sealed).toHaveLength(1);
    expect(JSON.stringify(sealed)).not.toContain(secretPart);
    expect((await readWebhookConfig())?.url).toBe(url);
    expect((await sendTestNotification(admin.actor)).id).not.toBeNull();
    expect(receiver.paths.at(-1)).toBe(secretPart);

    // An earlier version's plaintext setting: used, then sealed and removed from the setting.
    const legacy = `${receiver.origin}/services/T222/B222/${randomUUID()}`;
    await getDb().transaction((tx) => putSetting(tx, 'notifications.webhook', { url: legacy, enabled: true }));
    expect((await readWebhookConfig())?.url).toBe(legacy);
    expect(JSON.stringify(await getSetting('notifications.webhook'))).not.toContain(new URL(legacy).pathname);
    expect((await readWebhookConfig())?.url).toBe(legacy);
    expect(await getWebhookSettings(admin.actor)).toEqual({ configured: true, enabled: true, destination: receiver.origin });

    // Cleared: retired in the vault, nothing to deliver to; then set again for the other tests.
    await setWebhookSettings(admin.actor, { url: '', clear: true });
    expect(await readWebhookConfig()).toBeNull();
    expect(await getWebhookSettings(admin.actor)).toEqual({ configured: false, enabled: false, destination: null });
    const current = await getDb().select().from(credentials).where(and(eq(credentials.ownerType, 'settings'), eq(credentials.state, 'current')));
    expect(current).toHaveLength(0);
    await setWebhookSettings(admin.actor, { url, enabled: true });
  });

  it('queues notifications while the vault is locked, and delivers them once it opens', async () => {
    const saved = currentVaultKeys();
    setVaultKeys({});
    let id: string | null;
    try {
      id = await enqueueNotification('test', `locked:${randomUUID()}`, { text: 'queued while locked' });
      expect(id).not.toBeNull();
      await expect(deliverPendingNotifications()).rejects.toMatchObject({ code: 'VAULT_LOCKED' });
      const [pending] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id!));
      expect(pending).toMatchObject({ status: 'pending', attempts: 0 });
    } finally {
      setVaultKeys(saved);
    }
    await deliverPendingNotifications();
    const [delivered] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, id!));
    expect(delivered?.status).toBe('delivered');
    expect(receiver.bodies.some((b) => b.includes('queued while locked'))).toBe(true);
  });

  it('a rotation is marked failed only together with its notification: when queuing fails, nothing is committed and a later run fails it and notifies', async () => {
    const reg = await registerAtGeneral();
    const { registrations, rotations } = await import('@/db/schema');
    await getDb().update(registrations).set({ registrationClientUri: `${sandbox.general.origin}/reg/unknown-client` }).where(eq(registrations.id, reg.registrationId));
    const { setRotationOverrides } = await import('@/lib/rotation/settings');
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuerId, overrides: { updateIssuesSecret: true } });
    await refuseNotificationsAbout(reg.registrationId);
    try {
      await expect(startRotation(ops.actor, { registrationId: reg.registrationId })).rejects.toThrow();
      const [rot] = await getDb().select().from(rotations).where(eq(rotations.registrationId, reg.registrationId));
      expect(rot?.state).not.toBe('failed');
    } finally {
      await allowNotificationsAbout(reg.registrationId);
    }
    const [rot] = await getDb().select().from(rotations).where(eq(rotations.registrationId, reg.registrationId));
    const failed = await retryRotation(ops.actor, { rotationId: rot!.id });
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuerId, overrides: { updateIssuesSecret: false } });
    expect(failed.state).toBe('failed');
    const queued = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.eventKey, `rotation-failed:${rot!.id}`));
    expect(queued).toHaveLength(1);
  });

  it('no notification body ever contains a secret (client secrets, registration access tokens, the webhook URL)', async () => {
    // A rotation that fails sends a notification too.
    const reg = await registerAtGeneral();
    const { registrations } = await import('@/db/schema');
    await getDb().update(registrations).set({ registrationClientUri: `${sandbox.general.origin}/reg/unknown-client` }).where(eq(registrations.id, reg.registrationId));
    const { setRotationOverrides } = await import('@/lib/rotation/settings');
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuerId, overrides: { updateIssuesSecret: true } });
    const failed = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(failed.state).toBe('failed');
    await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuerId, overrides: { updateIssuesSecret: false } });
    await runExpiryMonitor();
    await enqueueDailyDigest(new Date(Date.now() + 3 * DAY));
    await deliverPendingNotifications();
    expect(receiver.bodies.some((b) => b.includes('rotation FAILED'))).toBe(true);

    const secrets: string[] = [];
    const rows = await getDb().select({ id: credentials.id }).from(credentials).where(inArray(credentials.ownerId, registrationIds));
    for (const row of rows) {
      const opened = await readCredentialById(getDb(), row.id);
      if (opened && opened.plaintext.length >= 8 && !opened.plaintext.trimStart().startsWith('{')) secrets.push(opened.plaintext);
    }
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const stored = (await getDb().select({ payload: notificationDeliveries.payload }).from(notificationDeliveries)).map((r) => JSON.stringify(r.payload));
    for (const body of [...receiver.bodies, ...stored]) {
      for (const secret of secrets) expect(body.includes(secret)).toBe(false);
      expect(body).not.toContain('/services/T000');
    }
  });
});

describe('the app credential monitor', () => {
  const mineOnly = (run: { changes: Array<{ id: string }> }, id: string) => run.changes.filter((c) => c.id === id);

  it('keeps an app key\'s change made while the webhook is off, reports it once the webhook is on again, and the digest counts it meanwhile', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    const key = await ensureAppKey(appId, 'production', 'client_auth', 'ES384');
    const maxAge = env().REGISTRAR_KEY_MAX_AGE_DAYS;
    await runAppCredentialMonitor(); // first seen: ok, recorded silently
    await switchWebhook(false);
    try {
      const before = (await buildDailyDigest()).counts.appCredentials.expired;
      await getDb().update(appKeys).set({ createdAt: new Date(Date.now() - (maxAge + 1) * DAY) }).where(eq(appKeys.id, key.id));
      const off = await runAppCredentialMonitor();
      expect(off.changes.filter((c) => c.id === key.id)).toEqual([]);
      expect(off.notificationId).toBeNull();
      expect(await getDb().select({ state: appCredentialStates.state }).from(appCredentialStates).where(eq(appCredentialStates.subjectId, key.id))).toEqual([{ state: 'ok' }]);
      expect((await buildDailyDigest()).counts.appCredentials.expired).toBe(before + 1);
    } finally {
      await switchWebhook(true);
    }
    const back = await runAppCredentialMonitor();
    expect(back.changes.filter((c) => c.id === key.id)).toEqual([expect.objectContaining({ subject: 'private_key', from: 'ok', to: 'expired' })]);
    expect(back.notificationId).not.toBeNull();
    expect(mineOnly(await runAppCredentialMonitor(), key.id)).toEqual([]);
  });

  it('escapes app names for Slack in the app key text, and keeps them as given in the structured changes', async () => {
    const name = `Keys <!here> & co ${uniqueSuffix()}`;
    const { appId } = await insertApp({ environments: { production: {} } });
    await getDb().update(apps).set({ name }).where(eq(apps.id, appId));
    const key = await ensureAppKey(appId, 'production', 'client_auth', 'ES384');
    await getDb().update(appKeys).set({ createdAt: new Date(Date.now() - (env().REGISTRAR_KEY_MAX_AGE_DAYS - 20) * DAY) }).where(eq(appKeys.id, key.id));
    const run = await runAppCredentialMonitor();
    expect(mineOnly(run, key.id)).toHaveLength(1);
    await deliverPendingNotifications();
    const [body] = bodiesAbout([key.id]);
    const sent = JSON.parse(body!) as { text: string; appCredentialChanges: Array<{ app: string }> };
    expect(sent.text).toContain(`• Keys &lt;!here&gt; &amp; co ${name.split(' ').at(-1)} (production) · private key ${key.kid} reaches its maximum age`);
    expect(sent.text).not.toContain('<!here>');
    expect(sent.appCredentialChanges.find((c) => c.app === name)).toBeDefined();
  });

  it('watches private keys by age and UDAP certificates by validity, notifying each change once', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    const key = await ensureAppKey(appId, 'production', 'client_auth', 'ES384');
    const pki = await makeUdapPki('ES384', { notAfter: new Date(Date.now() + 5 * DAY) });
    const certificate = await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: `${pki.leafPem}\n${pki.caPem}`, privateKeyPem: pki.leafKeyPem });
    const [certRow] = await getDb().select({ id: appCertificates.id }).from(appCertificates).where(eq(appCertificates.fingerprintSha256, certificate.fingerprintSha256));
    const maxAge = env().REGISTRAR_KEY_MAX_AGE_DAYS;
    const mine = <T extends { id: string }>(changes: T[]) => changes.filter((c) => c.id === key.id || c.id === certRow!.id);

    // A new key is ok (recorded silently); the certificate expires within 7 days.
    const first = await runAppCredentialMonitor();
    expect(mine(first.changes)).toEqual([expect.objectContaining({ subject: 'certificate', from: null, to: 'expiring', thresholdDays: 7 })]);
    expect(first.notificationId).not.toBeNull();
    const [queued] = await getDb().select().from(notificationDeliveries).where(eq(notificationDeliveries.id, first.notificationId!));
    expect(String(queued!.payload.text)).toMatch(/UDAP client certificate ".+" expires within 7 days: upload a renewed certificate/);
    expect(JSON.stringify(queued!.payload)).not.toMatch(/PRIVATE KEY|"d":/);
    expect(mine((await runAppCredentialMonitor()).changes)).toEqual([]);

    // The key reaches its maximum age: within 30 days, then past it.
    await getDb().update(appKeys).set({ createdAt: new Date(Date.now() - (maxAge - 20) * DAY) }).where(eq(appKeys.id, key.id));
    expect(mine((await runAppCredentialMonitor()).changes)).toEqual([expect.objectContaining({ subject: 'private_key', label: key.kid, from: 'ok', to: 'expiring', thresholdDays: 30 })]);
    await getDb().update(appKeys).set({ createdAt: new Date(Date.now() - (maxAge + 1) * DAY) }).where(eq(appKeys.id, key.id));
    const past = mine((await runAppCredentialMonitor()).changes);
    expect(past).toEqual([expect.objectContaining({ subject: 'private_key', to: 'expired' })]);
    expect(appCredentialChangePayload(past, maxAge).text).toContain(`private key ${key.kid} is past its maximum age of ${maxAge} days: rotate it (key rollover)`);

    // A retired key is no longer watched: one that would now be past its age reports nothing.
    const other = await ensureAppKey(appId, 'production', 'software_statement', 'ES384');
    await runAppCredentialMonitor(); // first seen: ok, recorded silently
    await getDb().update(appKeys).set({ state: 'retired', createdAt: new Date(Date.now() - (maxAge + 1) * DAY) }).where(eq(appKeys.id, other.id));
    const later = await runAppCredentialMonitor({ now: new Date(Date.now() + 6 * DAY) });
    expect(later.changes.filter((c) => c.id === other.id)).toEqual([]);
    expect(mine(later.changes)).toEqual([expect.objectContaining({ subject: 'certificate', to: 'expired' })]);
  });
});
