import { expect, test, type Locator } from '@playwright/test';
import { query, storageStateFor, uniqueEmail } from './support/context';
import { createApp } from './support/flows';

test('the app profile form: Enter adds an environment, a nested field error shows at its field, findings follow the application type', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Forms ${Date.now().toString(36)}`;
  await createApp(page, name, { authMethod: 'client_secret_basic', redirect: 'http://127.0.0.1:7000/cb', scope: 'openid' });
  const form = page.getByRole('form', { name: 'Edit app' });

  // Enter in "Add environment" adds it; it does not submit the form (which would save a version without it).
  await form.getByLabel('Add environment').fill('staging');
  await form.getByLabel('Add environment').press('Enter');
  await expect(form.getByRole('heading', { name: 'Environment: staging' })).toBeVisible();
  await expect(form.getByLabel('Add environment')).toHaveValue('');
  await expect(page.getByText(/Saved as version/)).toHaveCount(0);

  // The edit schema nests the profile ({ appId, profile }): the error still shows at client_uri.
  await form.getByLabel('client_uri').fill('not a url');
  await form.getByRole('button', { name: 'Save new version' }).click();
  await expect(form.getByLabel('client_uri')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#field-clientUri-error')).toBeVisible();

  // http on a loopback IP: fine for a native app, an error once the type is switched to web.
  const production = form.getByLabel('Redirect URI findings for production');
  await form.getByLabel('Application type').first().selectOption('native');
  await expect(production.getByText(/only https is allowed|a web application must use https/i)).toHaveCount(0);
  await form.getByLabel('Application type').first().selectOption('web');
  await expect(production.getByText(/a web application must use https/)).toBeVisible();
  await context.close();
});

/** The environment's card in the app profile form (a section headed "Environment: <name>"). */
const environmentCard = (form: Locator, name: string) => form.locator('section').filter({ has: form.page().getByRole('heading', { name: `Environment: ${name}`, exact: true }) });

/** The element a field's aria-describedby points at (its error once it has one). */
async function describedBy(field: Locator) {
  const id = await field.getAttribute('aria-describedby');
  expect(id, 'the field is described by its error').toBeTruthy();
  return field.page().locator(`[id="${id}"]`);
}

/** A refused field: marked invalid, its message linked to it, and shown once on the page (not again in a summary). */
async function expectFieldError(field: Locator, message: RegExp) {
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(await describedBy(field)).toHaveText(message);
  await expect(field.page().getByRole('alert').filter({ hasText: message })).toHaveCount(1);
}

test('a new app refused for an over-long Epic client id in production shows the error at that field of production only, keeps the input and saves nothing', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Env errors ${Date.now().toString(36)}`;
  await page.goto('/apps/new');
  const form = page.getByRole('form', { name: 'New app' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('software_id').fill(`com.example.${name.toLowerCase().replace(/\W+/g, '-')}`);
  await form.getByLabel('Add environment').fill('staging');
  await form.getByLabel('Add environment').press('Enter');

  const production = environmentCard(form, 'production');
  const staging = environmentCard(form, 'staging');
  // No maxlength on the input: the browser sends it, the server's schema (max 200) refuses it.
  const longEpicClientId = 'e'.repeat(201);
  await production.getByLabel('Redirect URIs (one per line, exact)').fill('https://app.example.test/cb');
  await production.getByLabel('Token endpoint auth method').selectOption('client_secret_basic');
  await production.getByLabel('Epic client id').fill(longEpicClientId);
  await staging.getByLabel('Redirect URIs (one per line, exact)').fill('https://staging.example.test/cb');
  await form.getByRole('button', { name: 'Create app' }).click();

  await expectFieldError(production.getByLabel('Epic client id'), /200 characters/);
  await expect(staging.getByLabel('Epic client id')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('Some fields need attention.')).toBeVisible();
  // What was typed is still there to correct.
  await expect(production.getByLabel('Epic client id')).toHaveValue(longEpicClientId);
  await expect(production.getByLabel('Redirect URIs (one per line, exact)')).toHaveValue('https://app.example.test/cb');
  await expect(production.getByLabel('Token endpoint auth method')).toHaveValue('client_secret_basic');
  await expect(staging.getByLabel('Redirect URIs (one per line, exact)')).toHaveValue('https://staging.example.test/cb');
  expect(await query('select id from apps where name = $1', [name])).toHaveLength(0);
  await context.close();
});

test('a redirect URI with a fragment is refused at the Redirect URIs field of its environment, and nothing is saved', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Fragment ${Date.now().toString(36)}`;
  await page.goto('/apps/new');
  const form = page.getByRole('form', { name: 'New app' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('software_id').fill(`com.example.${name.toLowerCase().replace(/\W+/g, '-')}`);
  const production = environmentCard(form, 'production');
  await production.getByLabel('Redirect URIs (one per line, exact)').fill('https://app.example.test/cb#done');
  await production.getByLabel('Token endpoint auth method').selectOption('client_secret_basic');
  await form.getByRole('button', { name: 'Create app' }).click();
  await expectFieldError(production.getByLabel('Redirect URIs (one per line, exact)'), /"https:\/\/app\.example\.test\/cb#done": .*fragment/);
  await expect(production.getByLabel('Redirect URIs (one per line, exact)')).toHaveValue('https://app.example.test/cb#done');
  expect(await query('select id from apps where name = $1', [name])).toHaveLength(0);
  await context.close();
});

test('an environment name the schema refuses is refused at "Add environment" and adds no card', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  await page.goto('/apps/new');
  const form = page.getByRole('form', { name: 'New app' });
  const add = form.getByLabel('Add environment');
  await add.fill('my env');
  await add.press('Enter');
  await expectFieldError(add, /lower-case letters/);
  await expect(add).toHaveValue('my env');
  await expect(form.getByRole('heading', { name: 'Environment: my env' })).toHaveCount(0);
  // An environment the app already has is not added twice.
  await add.fill('production');
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  await expectFieldError(add, /already has/);
  await expect(form.getByRole('heading', { name: 'Environment: production' })).toHaveCount(1);
  // A valid name is added and clears the error.
  await add.fill('staging');
  await add.press('Enter');
  await expect(form.getByRole('heading', { name: 'Environment: staging' })).toBeVisible();
  await expect(add).not.toHaveAttribute('aria-invalid', 'true');
  await expect(add).toHaveValue('');
  await context.close();
});

test('an app edit refused for an over-long scope and an unknown key algorithm in production and an over-long software_version shows each at its field and saves no version', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Env edit ${Date.now().toString(36)}`;
  await createApp(page, name, { authMethod: 'private_key_jwt', redirect: 'https://app.example.test/cb', scope: 'openid' });
  const form = page.getByRole('form', { name: 'Edit app' });
  const production = environmentCard(form, 'production');
  // The edit schema nests the profile ({ appId, expectedVersion, profile }): its keys start with "profile.".
  const longScope = `openid ${'a'.repeat(4000)}`;
  await production.getByLabel('Scopes', { exact: true }).fill(longScope);
  // A value the select does not offer (a tampered option), which the browser sends as it is.
  await production.getByLabel('Key algorithm (private_key_jwt)').evaluate((select: HTMLSelectElement) => {
    select.options[select.selectedIndex]!.value = 'HS256';
  });
  await form.getByLabel('software_version').fill('v'.repeat(101));
  await form.getByRole('button', { name: 'Save new version' }).click();

  await expectFieldError(production.getByLabel('Scopes', { exact: true }), /4000 characters/);
  await expectFieldError(production.getByLabel('Key algorithm (private_key_jwt)'), /ES384/);
  await expectFieldError(form.getByLabel('software_version'), /100 characters/);
  await expect(production.getByLabel('Scopes', { exact: true })).toHaveValue(longScope);
  await expect(page.getByText(/Saved as version/)).toHaveCount(0);
  const rows = await query<{ current_version: number; versions: string }>(
    'select a.current_version, (select count(*) from app_versions v where v.app_id = a.id)::text as versions from apps a where a.name = $1',
    [name],
  );
  expect(rows).toEqual([{ current_version: 1, versions: '1' }]);
  await context.close();
});

test('creating a user with an over-long name shows the error at Name and creates no user', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('admin') });
  const page = await context.newPage();
  await page.goto('/settings');
  const form = page.getByRole('form', { name: 'Create user' });
  const email = uniqueEmail('long-name');
  const longName = 'n'.repeat(201);
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Name').fill(longName);
  await form.getByRole('button', { name: 'Create user' }).click();

  await expectFieldError(form.getByLabel('Name'), /200 characters/);
  await expect(form.getByLabel('Email')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(form.getByLabel('Name')).toHaveValue(longName);
  await expect(page.getByTestId('one-time-password')).toHaveCount(0);
  expect(await query('select id from users where email = $1', [email])).toHaveLength(0);
  await context.close();
});

test('an allowlist entry with an over-long note shows the error at Note and adds no entry', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('admin') });
  const page = await context.newPage();
  await page.goto('/settings');
  const form = page.getByRole('form', { name: 'Add allowlist entry' });
  const entry = `note-${Date.now().toString(36)}.hospital.example`;
  await form.getByLabel('Entry').fill(entry);
  await form.getByLabel('Note').fill('n'.repeat(501));
  await form.getByRole('button', { name: 'Add entry' }).click();

  await expectFieldError(form.getByLabel('Note'), /500 characters/);
  await expect(form.getByLabel('Entry')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(form.getByLabel('Entry')).toHaveValue(entry);
  expect(await query('select id from outbound_allowlist where entry = $1', [entry])).toHaveLength(0);
  await context.close();
});

test('adding an issuer with an over-long Epic client id and a refused custom environment name shows each at its field and adds no issuer', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Issuer errors ${Date.now().toString(36)}`;
  await page.goto('/health-systems');
  await page.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create health system' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();

  const form = page.getByRole('form', { name: 'Add issuer' });
  await form.getByLabel('Issuer or FHIR base URL').fill('https://fhir.hospital.example/r4');
  await form.getByLabel('Environment', { exact: true }).selectOption('other');
  await form.getByLabel('Environment name').fill('staging!');
  await form.getByLabel('Epic client id (optional)').fill('e'.repeat(201));
  await form.getByRole('button', { name: 'Discover and add' }).click();

  await expectFieldError(form.getByLabel('Epic client id (optional)'), /200 characters/);
  // The custom name is what the server refused, so its error is at the name, not at the select.
  await expectFieldError(form.getByLabel('Environment name'), /Use letters, digits/);
  await expect(form.getByLabel('Environment', { exact: true })).not.toHaveAttribute('aria-invalid', 'true');
  expect(await query('select i.id from issuers i join health_systems h on h.id = i.health_system_id where h.name = $1', [name])).toHaveLength(0);
  await context.close();
});

test('an app edit keeps the grant types the boxes do not list, and refuses a version with no grant type at all instead of saving authorization_code', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `Grants ${Date.now().toString(36)}`;
  await createApp(page, name, { authMethod: 'private_key_jwt', redirect: 'https://app.example.test/cb', scope: 'openid', grantTypes: ['client_credentials'] });
  // Version 1 also holds a grant type no box lists (saved through the API, say).
  const exchange = 'urn:ietf:params:oauth:grant-type:token-exchange';
  await query(
    `update app_versions set profile = jsonb_set(profile, '{environments,production,grantTypes}', $2::jsonb)
      where app_id = (select id from apps where name = $1) and version = 1`,
    [name, JSON.stringify(['authorization_code', 'client_credentials', exchange])],
  );
  await page.reload();
  const form = page.getByRole('form', { name: 'Edit app' });
  const production = environmentCard(form, 'production');
  await expect(production.getByLabel('Other grant types (one per line)')).toHaveValue(exchange);

  // Saved unchanged: nothing is dropped.
  await form.getByRole('button', { name: 'Save new version' }).click();
  await expect(page.getByText('Saved as version 2.')).toBeVisible();
  const saved = async (version: number) =>
    (await query<{ g: string[] }>(`select profile->'environments'->'production'->'grantTypes' as g from app_versions where app_id = (select id from apps where name = $1) and version = $2`, [name, version]))[0]?.g;
  expect(await saved(2)).toEqual(['authorization_code', 'client_credentials', exchange]);

  // Every box unticked and no other grant type: refused at Grant types, nothing saved.
  await page.reload();
  for (const g of ['authorization_code', 'client_credentials']) await production.getByLabel(g, { exact: true }).uncheck();
  await production.getByLabel('Other grant types (one per line)').fill('');
  await form.getByRole('button', { name: 'Save new version' }).click();
  await expect(production.getByRole('alert').filter({ hasText: /Choose at least one grant type/ })).toBeVisible();
  await expect(page.getByText('Saved as version 3.')).toHaveCount(0);
  expect(await saved(3)).toBeUndefined();
  await context.close();
});
