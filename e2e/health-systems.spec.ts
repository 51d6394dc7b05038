import { expect, test } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';

test('ops adds a health system and its Epic-like issuer from the FHIR base URL', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Epic Valley ${Date.now().toString(36)}`;

  await page.goto('/health-systems');
  const create = page.getByRole('form', { name: 'New health system' });
  await create.getByLabel('Name').fill(name);
  await create.getByLabel('Tags').fill('epic, west');
  await create.getByRole('button', { name: 'Create health system' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();

  const add = page.getByRole('form', { name: 'Add issuer' });
  await add.getByLabel('Issuer or FHIR base URL').fill(sandbox.epic.fhirBase);
  await add.getByLabel('Environment', { exact: true }).selectOption('non-production');
  await add.getByLabel('Epic client id (optional)').fill('e2e-epic-client');
  await add.getByRole('button', { name: 'Discover and add' }).click();

  await expect(page.getByRole('heading', { name: sandbox.epic.issuer })).toBeVisible();
  const endpoints = page.getByTestId('endpoints');
  await expect(endpoints.getByRole('row', { name: /registration/ })).toContainText(sandbox.epic.registrationEndpoint);
  await expect(page.getByTestId('capabilities')).toContainText('launch-standalone');
  await expect(page.getByTestId('warnings')).toContainText('HTTP_ENDPOINT');
  await page.screenshot({ path: 'test-results/artifacts/issuer-epic.png', fullPage: true });

  const rows = await query<{ issuer_url: string; environment: string }>(
    'select i.issuer_url, i.environment from issuers i join health_systems h on h.id = i.health_system_id where h.name = $1',
    [name],
  );
  expect(rows).toEqual([{ issuer_url: sandbox.epic.issuer, environment: 'non-production' }]);

  // Refresh finds nothing changed and records the run.
  await page.getByRole('button', { name: 'Refresh', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Refreshed: 0 change(s).' })).toBeVisible();
  await expect(page.getByTestId('history').getByText('manual')).toBeVisible();
  await context.close();
});

test('a blocked address is refused with its code and nothing is added', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Blocked ${Date.now().toString(36)}`;
  await page.goto('/health-systems');
  await page.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create health system' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  const add = page.getByRole('form', { name: 'Add issuer' });
  await add.getByLabel('Issuer or FHIR base URL').fill('https://169.254.169.254/latest/meta-data');
  await add.getByRole('button', { name: 'Discover and add' }).click();
  await expect(add.getByRole('alert')).toBeVisible();
  expect(await query('select i.id from issuers i join health_systems h on h.id = i.health_system_id where h.name = $1', [name])).toHaveLength(0);
  await context.close();
});

test('support reads health systems but cannot add one, and a forged POST is refused', async ({ browser }) => {
  // The ops page sends the real action; capture it to replay as support.
  const ops = await browser.newContext({ storageState: storageStateFor('ops') });
  const opsPage = await ops.newPage();
  await opsPage.goto('/health-systems');
  const opsName = `Captured ${Date.now().toString(36)}`;
  await opsPage.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(opsName);
  const [request] = await Promise.all([
    opsPage.waitForRequest((r) => r.method() === 'POST' && Boolean(r.headers()['next-action'])),
    opsPage.getByRole('button', { name: 'Create health system' }).click(),
  ]);
  await expect(opsPage.getByRole('heading', { name: opsName })).toBeVisible();
  await ops.close();

  const support = await browser.newContext({ storageState: storageStateFor('support') });
  const page = await support.newPage();
  await page.goto('/health-systems');
  await expect(page.getByRole('heading', { name: 'Health systems' })).toBeVisible();
  await expect(page.getByRole('form', { name: 'New health system' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Refresh all/ })).toHaveCount(0);

  const forgedName = `Forged ${Date.now().toString(36)}`;
  const response = await page.request.post('/health-systems', {
    headers: { 'Next-Action': request.headers()['next-action']!, 'Content-Type': request.headers()['content-type'] ?? 'text/plain;charset=UTF-8', Accept: 'text/x-component' },
    data: request.postData()!.replace(opsName, forgedName),
  });
  expect(await response.text()).toContain('FORBIDDEN');
  expect(await query('select id from health_systems where name = $1', [forgedName])).toHaveLength(0);
  await support.close();
});
