import { expect, test } from '@playwright/test';
import { startEpicServer } from '../sandbox/epic';
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

test('ops sets the Epic client ID of an Epic issuer added without it, and Registrar finds and uses its registration endpoint', async ({ browser }) => {
  // An Epic-like server of this test's own: the sandbox's one is added (with its client id) above,
  // and an authorization server can be added once.
  const epic = await startEpicServer({ port: 0, adminToken: 'not-used', log: () => {} });
  await query('insert into outbound_allowlist (entry, note) values ($1, $2) on conflict do nothing', [`http://${new URL(epic.info.origin).host}`, 'e2e Epic-like server']);
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  try {
    const page = await context.newPage();
    const name = `Epic Without Id ${Date.now().toString(36)}`;
    await page.goto('/health-systems');
    await page.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
    await page.getByRole('button', { name: 'Create health system' }).click();
    await expect(page.getByRole('heading', { name })).toBeVisible();
    const add = page.getByRole('form', { name: 'Add issuer' });
    await add.getByLabel('Issuer or FHIR base URL').fill(epic.info.fhirBase);
    await add.getByRole('button', { name: 'Discover and add' }).click();

    // Added without the Epic client id: Epic showed no registration endpoint, and the page says what to do.
    await expect(page.getByRole('heading', { name: epic.info.issuer })).toBeVisible();
    const endpoints = page.getByTestId('endpoints');
    await expect(endpoints.getByRole('row', { name: /token/ })).toBeVisible();
    await expect(endpoints.getByRole('row', { name: /registration/ })).toHaveCount(0);
    await expect(page.getByTestId('warnings')).toContainText('NO_REGISTRATION_ENDPOINT');
    await expect(page.getByTestId('warnings')).toContainText('set the app’s Epic client ID on the issuer page');

    // Too long: refused at the field, nothing stored.
    const form = page.getByRole('form', { name: 'Epic client ID' });
    await form.getByLabel('Epic client ID').fill('e'.repeat(201));
    await form.getByRole('button', { name: 'Save and discover again' }).click();
    await expect(form.getByRole('alert')).toHaveText('Keep the Epic client ID to 200 characters or fewer.');
    await expect(form.getByLabel('Epic client ID')).toHaveAttribute('aria-invalid', 'true');
    const stored = () => query<{ id: string; epic_client_id: string | null; registration: string | null; needs_attention: boolean }>(
      `select i.id::text as id, i.epic_client_id, i.endpoints->'registration'->>'value' as registration, i.needs_attention
         from issuers i join health_systems h on h.id = i.health_system_id where h.name = $1`,
      [name],
    );
    expect(await stored()).toEqual([expect.objectContaining({ epic_client_id: null, registration: null })]);

    await form.getByLabel('Epic client ID').fill(' e2e-epic-prod-client ');
    await form.getByRole('button', { name: 'Save and discover again' }).click();
    await expect(form.getByRole('status')).toContainText(`found the registration endpoint ${epic.info.registrationEndpoint}; Registrar uses it now`);
    await expect(endpoints.getByRole('row', { name: /registration/ })).toContainText(epic.info.registrationEndpoint);
    await expect(form.getByLabel('Epic client ID')).toHaveValue('e2e-epic-prod-client');
    await expect(page.getByTestId('warnings')).not.toContainText('NO_REGISTRATION_ENDPOINT');
    await expect(page.getByText(/^Needs attention/)).toHaveCount(0);
    await page.screenshot({ path: 'test-results/artifacts/issuer-epic-client-id-set.png', fullPage: true });

    const [row] = await stored();
    expect(row).toEqual({ id: row!.id, epic_client_id: 'e2e-epic-prod-client', registration: epic.info.registrationEndpoint, needs_attention: false });
    const audits = await query<{ outcome: string }>("select outcome from audit_log where action = 'issuer.set_epic_client_id' and target_id = $1", [row!.id]);
    expect(audits).toEqual([{ outcome: 'success' }]);
  } finally {
    await context.close();
    await epic.close();
  }
});

test('a manager sees the Epic client ID read-only, with no form to change it', async ({ browser }) => {
  const suffix = Date.now().toString(36);
  const [system] = await query<{ id: string }>('insert into health_systems (name) values ($1) returning id::text as id', [`Epic Read Only ${suffix}`]);
  const [issuer] = await query<{ id: string }>(
    `insert into issuers (health_system_id, environment, input_url, issuer_url, epic_client_id)
     values ($1, 'production', $2, $3, 'manager-visible-client') returning id::text as id`,
    [system!.id, `https://epic-${suffix}.example.test/api/FHIR/R4`, `https://epic-${suffix}.example.test/oauth2`],
  );
  const context = await browser.newContext({ storageState: storageStateFor('manager') });
  const page = await context.newPage();
  await page.goto(`/health-systems/${system!.id}/issuers/${issuer!.id}`);
  await expect(page.getByRole('heading', { name: `https://epic-${suffix}.example.test/oauth2` })).toBeVisible();
  await expect(page.getByTestId('epic-client-id')).toContainText('manager-visible-client');
  await expect(page.getByRole('form', { name: 'Epic client ID' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Save and discover again' })).toHaveCount(0);
  await context.close();
});
