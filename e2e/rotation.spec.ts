import { expect, test, type Browser } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';
import { createApp, createHealthSystemWithIssuer, issuerOnPort, onboard } from './support/flows';

/**
 * Ops signed in, a health system with General Hospital's issuer, and an app whose registrations may
 * use client_credentials (so Registrar verifies a new secret with a token request); `onboard()`
 * registers one more client of it.
 */
async function opsWithRotatableApp(browser: Browser, label: string) {
  const { sandbox } = e2eContext();
  const generalPort = new URL(sandbox.general.origin).port;
  const ops = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await ops.newPage();
  const suffix = Date.now().toString(36);
  const appName = `${label} ${suffix}`;
  await createHealthSystemWithIssuer(page, `${label} General ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, appName, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid fhirUser launch/patient patient/*.read', grantTypes: ['client_credentials'] });
  return { ops, page, appName, onboard: () => onboard(page, issuerOnPort(generalPort), appName) };
}

test('ops rotates a secret from the registration page and sees the new expiry and the previous credential; a manager cannot', async ({ browser }) => {
  const { ops, page, onboard: onboardOne } = await opsWithRotatableApp(browser, 'Rotation');
  const spare = await onboardOne();
  const reg = await onboardOne();
  const [before] = await query<{ fingerprint: string }>("select fingerprint from credentials where owner_id = $1 and kind = 'client_secret' and state = 'current'", [reg.id]);

  // The plan is shown before anything runs.
  const section = page.getByTestId('rotation-section');
  await expect(section.getByTestId('rotation-plan')).toContainText('Planned strategy: Re-registration');
  await expect(section.getByTestId('rotation-plan')).toContainText('verification: a client_credentials token request');
  await expect(section.getByTestId('rotation-plan').locator('li')).toHaveCount(4);
  await expect(section.getByTestId('previous-credential')).toContainText('none yet');

  const [rotateRequest] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && Boolean(r.headers()['next-action'])),
    section.getByRole('button', { name: 'Rotate now' }).click(),
  ]);
  await expect(section.getByText(/^Rotated\. New client /)).toBeVisible({ timeout: 20_000 });
  await expect(section.getByTestId('rotation-status')).toContainText('done: the new credential is current');

  // What the database holds: one rotation, done; the new client replaces the old one.
  const rotations = await query<{ id: string; state: string; new_registration_id: string }>(
    'select id::text as id, state, new_registration_id::text as new_registration_id from rotations where registration_id = $1',
    [reg.id],
  );
  expect(rotations).toHaveLength(1);
  expect(rotations[0]!.state).toBe('current');
  const [created] = await query<{ client_id: string; secret_expires_at: Date }>('select client_id, secret_expires_at from registrations where id = $1', [rotations[0]!.new_registration_id]);
  const [old] = await query<{ replaced_by: string }>('select replaced_by_registration_id::text as replaced_by from registrations where id = $1', [reg.id]);
  expect(old?.replaced_by).toBe(rotations[0]!.new_registration_id);

  // The page: the new expiry, the new client, and the previous credential listed.
  const expiry = created!.secret_expires_at.toISOString().slice(0, 16).replace('T', ' ');
  await expect(section.getByTestId('new-expiry')).toHaveText(`${expiry} UTC`);
  await expect(section.getByTestId('current-credential')).toContainText(created!.client_id);
  await expect(section.getByTestId('previous-credential')).toContainText(reg.clientId);
  await expect(section.getByTestId('previous-credential')).toContainText(before!.fingerprint);
  await expect(section.getByTestId('previous-credential')).toContainText('previous');
  const credentialsTable = page.getByRole('table').filter({ hasText: 'Fingerprint' });
  await expect(credentialsTable.locator('tr').filter({ hasText: before!.fingerprint })).toContainText('previous');
  await expect(section).toContainText(`Replaced by a rotation: Registrar now uses client ${created!.client_id}`);
  await page.screenshot({ path: 'test-results/artifacts/rotation-after.png', fullPage: true });

  // A manager sees the section but no buttons; a replayed rotate action is refused and changes nothing.
  const manager = await browser.newContext({ storageState: storageStateFor('manager') });
  const managerPage = await manager.newPage();
  await managerPage.goto(spare.url);
  await expect(managerPage.getByTestId('rotation-plan')).toContainText('Planned strategy: Re-registration');
  await expect(managerPage.getByRole('button', { name: 'Rotate now' })).toHaveCount(0);
  await expect(managerPage.getByRole('button', { name: /Rotate automatically|Switch to manual/ })).toHaveCount(0);
  const forged = await manager.request.post(spare.url, {
    headers: { 'Next-Action': rotateRequest.headers()['next-action']!, 'Content-Type': rotateRequest.headers()['content-type'] ?? 'text/plain;charset=UTF-8', Accept: 'text/x-component' },
    data: rotateRequest.postData()!.replaceAll(reg.id, spare.id),
  });
  expect(await forged.text()).toContain('FORBIDDEN');
  expect(await query('select id from rotations where registration_id = $1', [spare.id])).toEqual([]);
  expect(await query('select id from registrations where replaces_registration_id = $1', [spare.id])).toEqual([]);
  const [denied] = await query<{ n: number }>("select count(*)::int as n from audit_log where action = 'action.startRotation' and outcome = 'denied'");
  expect(denied!.n).toBeGreaterThanOrEqual(1);
  await manager.close();
  await ops.close();
});

test('ops rotate a selection from the registrations table and follow its progress; a manager sees no selection and a forged request is refused', async ({ browser }) => {
  const { ops, page, appName, onboard: onboardOne } = await opsWithRotatableApp(browser, 'Bulk');
  const first = await onboardOne();
  const second = await onboardOne();

  await page.goto(`/registrations?q=${encodeURIComponent(appName)}`);
  const table = page.getByRole('table', { name: 'Registrations' });
  await expect(table.locator('tbody tr')).toHaveCount(2);
  await table.getByLabel(`Select ${first.clientId}`).check();
  await table.getByLabel(`Select ${second.clientId}`).check();
  const bar = page.getByTestId('bulk-rotate-bar');
  await expect(bar).toContainText('2 selected');
  await bar.getByRole('button', { name: 'Rotate selected' }).click();
  const [rotateRequest] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && Boolean(r.headers()['next-action'])),
    bar.getByRole('button', { name: 'Rotate 2' }).click(),
  ]);
  await page.waitForURL(/\/registrations\/rotations\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('bulk-rotation-counts')).toContainText('2 of 2 rotated · 0 failed', { timeout: 30_000 });
  await expect(page.getByRole('table', { name: 'Rotations of this bulk rotation' }).locator('tbody tr')).toHaveCount(2);
  await page.screenshot({ path: 'test-results/artifacts/bulk-rotation.png', fullPage: true });
  const rows = await query<{ state: string }>('select state from rotations where registration_id in ($1, $2)', [first.id, second.id]);
  expect(rows.map((r) => r.state)).toEqual(['current', 'current']);

  // A selection that cannot be rotated (the first one was just replaced): the progress page says
  // which and why, instead of a message that vanished with the selection.
  await page.goto(`/registrations?q=${encodeURIComponent(appName)}`);
  await table.getByLabel(`Select ${first.clientId}`).check();
  await bar.getByRole('button', { name: 'Rotate selected' }).click();
  await bar.getByRole('button', { name: 'Rotate 1' }).click();
  await page.waitForURL(/\/registrations\/rotations\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('bulk-rotation-counts')).toContainText('0 of 0 rotated');
  await expect(page.getByTestId('bulk-rotation-counts')).toContainText('1 not started');
  await expect(page.getByRole('list', { name: 'Registrations not started' })).toContainText(first.clientId);

  // A manager: no selection column, and the action replayed with a manager's session changes nothing.
  const spare = await onboardOne();
  const manager = await browser.newContext({ storageState: storageStateFor('manager') });
  const managerPage = await manager.newPage();
  await managerPage.goto(`/registrations?q=${encodeURIComponent(appName)}`);
  await expect(managerPage.getByRole('table', { name: 'Registrations' }).locator('tbody tr').first()).toBeVisible();
  await expect(managerPage.getByRole('checkbox', { name: /^Select / })).toHaveCount(0);
  const forged = await manager.request.post(`${new URL(page.url()).origin}/registrations`, {
    headers: { 'Next-Action': rotateRequest.headers()['next-action']!, 'Content-Type': rotateRequest.headers()['content-type'] ?? 'text/plain;charset=UTF-8', Accept: 'text/x-component' },
    data: rotateRequest.postData()!.replaceAll(first.id, spare.id).replaceAll(second.id, spare.id),
  });
  expect(await forged.text()).toContain('FORBIDDEN');
  expect(await query('select id from rotations where registration_id = $1', [spare.id])).toEqual([]);
  await manager.close();
  await ops.close();
});

test('a rotation that stopped resuming on its own shows why and offers Retry now; the retry completes it', async ({ browser }) => {
  const { ops, page, onboard: onboardOne } = await opsWithRotatableApp(browser, 'Stalled');
  const reg = await onboardOne();
  // As the state machine leaves a rotation whose step its process never survived (lib/rotation/run.ts,
  // stallRotation): state kept, stalled, the reason in its error, the registration needing attention.
  const reason = 'The step “changing the credential at the hospital” was started 3 times and each time the process running it stopped before it finished.';
  const [rot] = await query<{ id: string }>(
    `insert into rotations (registration_id, strategy, state, trigger, plan, unfinished_runs, stalled_at, error)
     values ($1, 're_registration', 'in_flight', 'manual', $2, 3, now(), $3) returning id::text as id`,
    [reg.id, JSON.stringify({ steps: ['Register a new client', 'Verify it', 'Switch to it'], why: 'e2e' }), JSON.stringify({ code: 'INTERRUPTED', message: reason, at: new Date().toISOString() })],
  );
  await query("update registrations set status = 'needs_attention', attention_reason = $2 where id = $1", [reg.id, `Credential rotation stopped: ${reason}`]);

  await page.goto(reg.url);
  const section = page.getByTestId('rotation-section');
  await expect(section.getByTestId('rotation-status').getByRole('status').filter({ hasText: reason })).toBeVisible();
  await expect(section.getByTestId('rotation-status')).toContainText('stopped: needs a person');
  await section.getByRole('button', { name: 'Retry now' }).click();
  await expect(section.getByText(/^Rotated\. New client /)).toBeVisible({ timeout: 20_000 });
  const [after] = await query<{ state: string; stalled_at: Date | null }>('select state, stalled_at from rotations where id = $1', [rot!.id]);
  expect(after).toMatchObject({ state: 'current', stalled_at: null });
  await ops.close();
});
