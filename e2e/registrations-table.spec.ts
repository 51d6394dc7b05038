import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { query, storageStateFor } from './support/context';

/** Inserts a health system, issuer, app and registrations with chosen expiries, straight into the database. */
async function seed(prefix: string, expiries: Array<number | null>) {
  const [hs] = await query<{ id: string }>('insert into health_systems (name) values ($1) returning id', [`${prefix} Health`]);
  const [iss] = await query<{ id: string }>(
    `insert into issuers (health_system_id, environment, input_url, issuer_url, endpoints) values ($1, 'production', $2, $2, '{}') returning id`,
    [hs!.id, `https://${prefix.toLowerCase()}.example.test/oauth2`],
  );
  const [app] = await query<{ id: string }>('insert into apps (name, software_id) values ($1, $2) returning id', [`${prefix} App`, `com.example.${prefix.toLowerCase()}`]);
  for (const [i, days] of expiries.entries()) {
    await query(
      `insert into registrations (issuer_id, app_id, app_version, environment, client_id, auth_method, requested_metadata, registered_metadata, secret_expiry_kind, secret_expires_at)
       values ($1, $2, 1, 'production', $3, 'client_secret_basic', '{}', '{}', $4, $5)`,
      [iss!.id, app!.id, `${prefix}-client-${i}`, days === null ? 'never' : 'at', days === null ? null : new Date(Date.now() + days * 86_400_000)],
    );
  }
  return { healthSystemId: hs!.id };
}

test('a manager filters to registrations expiring within 30 days and exports them as CSV', async ({ browser }) => {
  const prefix = `Tbl${Date.now().toString(36)}`;
  await seed(prefix, [3, 20, 45, 200, null]);
  const context = await browser.newContext({ storageState: storageStateFor('manager') });
  const page = await context.newPage();
  await page.goto('/registrations');
  const filters = page.getByRole('search', { name: 'Filter registrations' });
  await filters.getByPlaceholder('client id, hospital, app, issuer').fill(prefix);
  await filters.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('table-total')).toContainText('5 registrations');
  await filters.getByLabel('Expiring within').selectOption('30');
  await expect(page.getByTestId('table-total')).toContainText('2 registrations');
  await expect(page).toHaveURL(/expiringWithinDays=30/);
  const table = page.getByRole('table', { name: 'Registrations' });
  await expect(table.getByRole('link', { name: `${prefix}-client-0` })).toBeVisible();
  await expect(table.getByRole('link', { name: `${prefix}-client-2` })).toHaveCount(0);

  // The URL reproduces the view in a fresh page.
  const again = await context.newPage();
  await again.goto(page.url());
  await expect(again.getByTestId('table-total')).toContainText('2 registrations');
  await again.close();

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  const csv = readFileSync((await download.path())!, 'utf8');
  const lines = csv.trim().split('\r\n');
  expect(lines[0]).toContain('client_id');
  expect(lines.slice(1).map((l) => l.split(',')[4]).sort()).toEqual([`${prefix}-client-0`, `${prefix}-client-1`]);
  expect(csv).not.toMatch(/secret_value|client_secret"/);
  const audit = await query<{ outcome: string }>("select outcome from audit_log where action = 'registration.export' and actor_label = 'manager@example.test' order by id desc limit 1");
  expect(audit).toEqual([{ outcome: 'success' }]);
  await context.close();
});

test('support cannot export (the route refuses) and the overview chart links to the filtered table', async ({ browser }) => {
  const prefix = `Ovr${Date.now().toString(36)}`;
  await seed(prefix, [10]);
  const support = await browser.newContext({ storageState: storageStateFor('support') });
  const supportPage = await support.newPage();
  await supportPage.goto('/registrations');
  await expect(supportPage.getByRole('link', { name: 'Export CSV' })).toHaveCount(0);
  const refused = await supportPage.request.get('/api/registrations/export');
  expect(refused.status()).toBe(403);
  await support.close();

  const context = await browser.newContext({ storageState: storageStateFor('manager') });
  const page = await context.newPage();
  // Another site's link or image cannot make a manager export in their own name.
  const crossSite = await page.request.get('/api/registrations/export', { headers: { 'Sec-Fetch-Site': 'cross-site' } });
  expect(crossSite.status()).toBe(403);
  await page.goto('/');
  const chart = page.getByTestId('forecast-chart');
  await expect(chart).toBeVisible();
  await page.screenshot({ path: 'test-results/artifacts/overview.png', fullPage: true });
  const bar = chart.getByRole('link', { name: /Week of .*: [1-9]\d* expiring/ }).first();
  await bar.click();
  await expect(page).toHaveURL(/expiresFrom=\d{4}-\d{2}-\d{2}&expiresTo=/);
  await expect(page.getByRole('table', { name: 'Registrations' })).toBeVisible();
  const total = await page.getByTestId('table-total').textContent();
  expect(total).toMatch(/^[1-9]/);
  await page.screenshot({ path: 'test-results/artifacts/overview-click-through.png', fullPage: true });
  // The bar's window has no control above the table: it is shown, and removing it widens the table.
  const windowChip = page.getByRole('list', { name: 'Other filters' }).getByRole('listitem');
  await expect(windowChip).toContainText(/Secret expires from \d{4}-\d{2}-\d{2} before \d{4}-\d{2}-\d{2} \(UTC\)/);
  await windowChip.getByRole('button', { name: /Remove filter/ }).click();
  await expect(page).not.toHaveURL(/expiresFrom/);
  await expect(page.getByRole('list', { name: 'Other filters' })).toHaveCount(0);

  // The overview's "expired" tile: the select shows the filter, and "Clear filters" removes every one.
  await page.goto('/');
  await page.getByRole('link', { name: /expired$/ }).first().click();
  const filters = page.getByRole('search', { name: 'Filter registrations' });
  await expect(filters.getByLabel('Expiring within')).toHaveValue('0');
  await filters.getByRole('button', { name: 'Clear filters' }).click();
  await expect(page).not.toHaveURL(/expiringWithinDays/);
  await expect(filters.getByLabel('Expiring within')).toHaveValue('');
  await context.close();
});
