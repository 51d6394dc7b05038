import { expect, test, type Page } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';

/** General Hospital can be added once per installation; other specs may have added it already. */
async function healthSystemWithGeneral(page: Page, name: string, url: string) {
  await page.goto('/health-systems');
  await page.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create health system' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  const add = page.getByRole('form', { name: 'Add issuer' });
  await add.getByLabel('Issuer or FHIR base URL').fill(url);
  await add.getByLabel('Environment', { exact: true }).selectOption('sandbox');
  await add.getByRole('button', { name: 'Discover and add' }).click();
  await expect(page.getByTestId('endpoints').or(page.getByText(/has already been added/))).toBeVisible();
}

/** An app that may use client_credentials, so Registrar can verify a new secret with a token request. */
async function createApp(page: Page, name: string) {
  await page.goto('/apps/new');
  const form = page.getByRole('form', { name: 'New app' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('software_id').fill(`com.example.${name.toLowerCase().replace(/\W+/g, '-')}`);
  await form.getByLabel('Redirect URIs (one per line, exact)').fill('https://app.example.com/callback');
  await form.getByLabel('Scopes').fill('openid fhirUser launch/patient patient/*.read');
  await form.getByLabel('Token endpoint auth method').selectOption('client_secret_basic');
  await form.getByLabel('client_credentials', { exact: true }).check();
  await form.getByRole('button', { name: 'Create app' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
}

async function onboardAtGeneral(page: Page, generalPort: string, appName: string): Promise<{ url: string; clientId: string; id: string }> {
  await page.goto('/registrations/new');
  const wizard = page.getByRole('form', { name: 'Onboard a hospital' });
  const issuerSelect = wizard.getByLabel('Issuer', { exact: true });
  const value = await issuerSelect.locator('option').filter({ hasText: new RegExp(`127\\.0\\.0\\.1:${generalPort}`) }).first().getAttribute('value');
  await issuerSelect.selectOption(value!);
  await wizard.getByLabel('App', { exact: true }).selectOption({ label: `${appName} (v1)` });
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByTestId('request-preview')).toBeVisible();
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.getByText('Registered. The hospital issued the client below')).toBeVisible();
  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  const [row] = await query<{ id: string }>('select id::text as id from registrations where client_id = $1', [clientId]);
  return { url: page.url().replace(/\?.*$/, ''), clientId, id: row!.id };
}

test('ops rotates a secret from the registration page and sees the new expiry and the previous credential; a manager cannot', async ({ browser }) => {
  test.setTimeout(90_000);
  const { sandbox } = e2eContext();
  const generalPort = new URL(sandbox.general.origin).port;
  const ops = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await ops.newPage();
  const suffix = Date.now().toString(36);
  const appName = `Rotation ${suffix}`;
  await healthSystemWithGeneral(page, `Rotation General ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, appName);
  const spare = await onboardAtGeneral(page, generalPort, appName);
  const reg = await onboardAtGeneral(page, generalPort, appName);
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
