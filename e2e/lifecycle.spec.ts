import { expect, test } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';
import { createApp, createHealthSystemWithIssuer, issuerOnPort, onboard } from './support/flows';

const MANAGEMENT_BUTTONS = ['Refresh from server', 'Edit metadata', 'Sync to app profile', 'Delete at hospital'];

test('ops refreshes, edits and deletes a registration at General Hospital; a manager sees the record but no management buttons', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const ops = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await ops.newPage();
  const suffix = Date.now().toString(36);
  const appName = `Lifecycle ${suffix}`;
  await createHealthSystemWithIssuer(page, `Lifecycle General ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, appName, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid fhirUser launch/patient patient/*.read' });
  await onboard(page, issuerOnPort(new URL(sandbox.general.origin).port), appName);
  const registrationUrl = page.url().replace(/\?.*$/, '');
  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  const [{ id: registrationId } = { id: '' }] = await query<{ id: string }>('select id::text as id from registrations where client_id = $1', [clientId]);
  expect(registrationId).not.toBe('');
  await expect(page.getByRole('navigation', { name: 'Related' }).getByRole('link', { name: 'Diagnose this client' })).toHaveAttribute('href', `/diagnose?mode=client&client_id=${encodeURIComponent(clientId)}`);
  await expect(page.getByTestId('last-checked')).toContainText('never');

  // Refresh from server: the hospital's record matches Registrar's.
  const [refreshRequest] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && Boolean(r.headers()['next-action'])),
    page.getByRole('button', { name: 'Refresh from server' }).click(),
  ]);
  await expect(page.getByText('Refreshed: no drift.')).toBeVisible();
  await expect(page.getByTestId('drift-summary')).toHaveText('No drift: the hospital’s record matches Registrar’s.');
  await expect(page.getByTestId('drift-table').locator('tr[data-differs]')).toHaveCount(0);
  await expect(page.getByTestId('drift-table')).toContainText('https://app.example.com/callback');
  await expect(page.getByTestId('last-checked')).not.toContainText('never');
  const [checked] = await query<{ last_checked_at: Date | null; has_record: boolean }>('select last_checked_at, server_metadata is not null as has_record from registrations where id = $1', [registrationId]);
  expect(checked).toMatchObject({ has_record: true });
  expect(checked?.last_checked_at).toBeTruthy();

  // Edit the redirect URIs: the hospital's answer becomes the server's record, and the RAT rotates.
  const newUri = `https://app.example.com/${suffix}/callback`;
  await page.getByRole('button', { name: 'Edit metadata' }).click();
  const form = page.getByRole('form', { name: 'Edit metadata' });
  await form.getByLabel('Redirect URIs (one per line, exact)').fill(`https://app.example.com/callback\n${newUri}`);
  await form.getByRole('button', { name: 'Save at the hospital' }).click();
  await expect(page.getByText(/Updated at the hospital: redirect_uris\./)).toBeVisible();
  const redirectRow = page.getByTestId('drift-table').locator('tr[data-field="redirect_uris"]');
  await expect(redirectRow).toContainText(newUri);
  // Read it back from the hospital (a fresh GET with the rotated token): still there, no drift.
  await page.getByRole('button', { name: 'Refresh from server' }).click();
  await expect(page.getByText('Refreshed: no drift.')).toBeVisible();
  await expect(redirectRow).toContainText(newUri);
  const [stored] = await query<{ server: string[]; registered: string[] }>(
    "select server_metadata->'redirect_uris' as server, registered_metadata->'redirect_uris' as registered from registrations where id = $1",
    [registrationId],
  );
  expect(stored).toEqual({ server: ['https://app.example.com/callback', newUri], registered: ['https://app.example.com/callback', newUri] });
  const rats = await query<{ state: string; version: number }>(
    "select state, version from credentials where owner_id = $1 and kind = 'registration_access_token' order by version",
    [registrationId],
  );
  expect(rats).toEqual([
    { state: 'previous', version: 1 },
    { state: 'current', version: 2 },
  ]);
  await page.screenshot({ path: 'test-results/artifacts/lifecycle-after-edit.png', fullPage: true });

  // A manager sees the same record and no management buttons; a replayed action is refused.
  const manager = await browser.newContext({ storageState: storageStateFor('manager') });
  const managerPage = await manager.newPage();
  await managerPage.goto(registrationUrl);
  await expect(managerPage.getByTestId('client-id')).toContainText(clientId);
  await expect(managerPage.getByTestId('drift-table')).toContainText(newUri);
  await expect(managerPage.getByTestId('last-checked')).not.toContainText('never');
  for (const name of MANAGEMENT_BUTTONS) await expect(managerPage.getByRole('button', { name })).toHaveCount(0);
  // The page links to what it names; a manager runs no diagnosis, so that link is not offered.
  const related = managerPage.getByRole('navigation', { name: 'Related' });
  await expect(related.getByRole('link', { name: 'App profile' })).toHaveAttribute('href', /^\/apps\/[0-9a-f-]{36}$/);
  await expect(related.getByRole('link', { name: 'Issuer' })).toHaveAttribute('href', /^\/health-systems\/[0-9a-f-]{36}\/issuers\/[0-9a-f-]{36}$/);
  await expect(related.getByRole('link', { name: 'Diagnose this client' })).toHaveCount(0);
  const before = await query<{ last_checked_at: Date }>('select last_checked_at from registrations where id = $1', [registrationId]);
  const forged = await manager.request.post(registrationUrl, {
    headers: { 'Next-Action': refreshRequest.headers()['next-action']!, 'Content-Type': refreshRequest.headers()['content-type'] ?? 'text/plain;charset=UTF-8', Accept: 'text/x-component' },
    data: refreshRequest.postData()!,
  });
  expect(await forged.text()).toContain('FORBIDDEN');
  expect(await query<{ last_checked_at: Date }>('select last_checked_at from registrations where id = $1', [registrationId])).toEqual(before);
  await manager.close();

  // Delete at the hospital, after a confirm step: kept here as deleted, credentials untouched.
  const credentialsBefore = await query<{ id: string; state: string }>('select id::text as id, state from credentials where owner_id = $1 order by id', [registrationId]);
  await page.getByRole('button', { name: 'Delete at hospital' }).click();
  const confirm = page.getByRole('group', { name: 'Confirm deletion' });
  await expect(confirm).toContainText(clientId);
  await confirm.getByRole('button', { name: 'Yes, delete at the hospital' }).click();
  await expect(page.getByTestId('registration-status')).toHaveText('deleted');
  await expect(page.getByText(/Deleted at the hospital on/)).toBeVisible();
  for (const name of MANAGEMENT_BUTTONS) await expect(page.getByRole('button', { name })).toHaveCount(0);
  const [deleted] = await query<{ status: string; deleted_at: Date | null }>('select status, deleted_at from registrations where id = $1', [registrationId]);
  expect(deleted?.status).toBe('deleted');
  expect(deleted?.deleted_at).toBeTruthy();
  expect(await query<{ id: string; state: string }>('select id::text as id, state from credentials where owner_id = $1 order by id', [registrationId])).toEqual(credentialsBefore);
  await ops.close();
});
