import { expect, test, type Locator, type Page } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';
import { createApp, createHealthSystemWithIssuer, issuerOnPort, onboard } from './support/flows';

/** Opens the wizard with the issuer on this sandbox port and the app (at this version) chosen, not yet prefilled. */
async function openWizard(page: Page, issuerLabel: RegExp, appName: string, version = 1): Promise<Locator> {
  await page.goto('/registrations/new');
  const wizard = page.getByRole('form', { name: 'Onboard a hospital' });
  const issuerSelect = wizard.getByLabel('Issuer', { exact: true });
  await issuerSelect.selectOption((await issuerSelect.locator('option').filter({ hasText: issuerLabel }).first().getAttribute('value'))!);
  await wizard.getByLabel('App', { exact: true }).selectOption({ label: `${appName} (v${version})` });
  return wizard;
}

test('ops onboards General Hospital end to end and reveals the secret once, audited', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  await createHealthSystemWithIssuer(page, `General ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, `Charts ${suffix}`, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid fhirUser launch/patient patient/*.read' });
  await onboard(page, issuerOnPort(new URL(sandbox.general.origin).port), `Charts ${suffix}`, { screenshot: `test-results/artifacts/onboarding-review-Charts-${suffix}.png` });

  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  await expect(page.getByTestId('managed')).toContainText('available');
  await expect(page.getByTestId('secret-expiry')).toContainText(/in (29|30) d/);
  const rows = await query<{ client_id: string; status: string }>('select client_id, status from registrations where client_id = $1', [clientId]);
  expect(rows).toEqual([{ client_id: clientId, status: 'active' }]);

  const [revealRequest] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && Boolean(r.headers()['next-action'])),
    page.getByRole('button', { name: 'Reveal client secret (audited)' }).click(),
  ]);
  const secret = (await page.getByTestId('revealed-secret').textContent())!;
  expect(secret.length).toBeGreaterThan(20);
  const audit = await query<{ outcome: string }>("select outcome from audit_log where action = 'credential.reveal' and target_id = (select id::text from registrations where client_id = $1)", [clientId]);
  expect(audit).toEqual([{ outcome: 'success' }]);
  // The secret is nowhere in the page's HTML once hidden, nor in the server-rendered page.
  await page.getByRole('button', { name: 'Hide' }).click();
  expect(await page.content()).not.toContain(secret);
  const html = await (await page.request.get(page.url())).text();
  expect(html).not.toContain(secret);
  await context.close();

  // A support user replaying the reveal action gets FORBIDDEN, and the attempt is audited.
  const support = await browser.newContext({ storageState: storageStateFor('support') });
  const forged = await support.request.post(page.url(), {
    headers: { 'Next-Action': revealRequest.headers()['next-action']!, 'Content-Type': revealRequest.headers()['content-type'] ?? 'text/plain;charset=UTF-8', Accept: 'text/x-component' },
    data: revealRequest.postData()!,
  });
  const forgedText = await forged.text();
  expect(forgedText).toContain('FORBIDDEN');
  expect(forgedText).not.toContain(secret);
  await support.close();
});

test('ops onboards Mercy Health with private_key_jwt and an initial access token', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const iatResponse = await fetch(`${sandbox.mercy.origin}/sandbox/initial-access-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sandbox.adminToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const { token } = (await iatResponse.json()) as { token: string };
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  await createHealthSystemWithIssuer(page, `Mercy ${suffix}`, sandbox.mercy.fhirBase);
  await createApp(page, `Backend ${suffix}`, { authMethod: 'private_key_jwt', redirect: 'https://app.example.com/callback', scope: 'system/Patient.rs', grantTypes: ['client_credentials'] });
  await onboard(page, issuerOnPort(new URL(sandbox.mercy.origin).port), `Backend ${suffix}`, { initialAccessToken: token, screenshot: `test-results/artifacts/onboarding-review-Backend-${suffix}.png` });
  await expect(page.getByTestId('metadata-diff')).toContainText('jwks_uri');
  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  const rows = await query<{ auth_method: string; app_key_id: string | null }>('select auth_method, app_key_id from registrations where client_id = $1', [clientId]);
  expect(rows[0]?.auth_method).toBe('private_key_jwt');
  expect(rows[0]?.app_key_id).toBeTruthy();
  // The hosted JWKS publishes only public members.
  const jwksUrl = (await query<{ u: string }>("select requested_metadata->>'jwks_uri' as u from registrations where client_id = $1", [clientId]))[0]!.u;
  const jwks = (await (await page.request.get(jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
  expect(jwks.keys.length).toBeGreaterThan(0);
  for (const k of jwks.keys) expect(k).not.toHaveProperty('d');

  // A refused initial access token (spent): the error is shown and the token field is emptied
  // (write-only, never kept in the page); the rest of the form keeps what was entered.
  await page.goto('/registrations/new');
  const wizard = page.getByRole('form', { name: 'Onboard a hospital' });
  const issuerSelect = wizard.getByLabel('Issuer', { exact: true });
  await issuerSelect.selectOption((await issuerSelect.locator('option').filter({ hasText: issuerOnPort(new URL(sandbox.mercy.origin).port) }).first().getAttribute('value'))!);
  await wizard.getByLabel('App', { exact: true }).selectOption({ label: `Backend ${suffix} (v1)` });
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByTestId('request-preview')).toBeVisible();
  await wizard.getByLabel(/Initial access token/).fill(token);
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(wizard.getByRole('alert').first()).toBeVisible();
  await expect(wizard.getByLabel(/Initial access token/)).toHaveValue('');
  await expect(wizard.getByLabel('App', { exact: true })).toHaveValue(/.+/);
  await context.close();
});

test('an edited redirect URI turns Register off and marks the review stale until "Check again"; then the review shows it and exactly that is registered', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  await createHealthSystemWithIssuer(page, `Stale ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, `Stale review ${suffix}`, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid fhirUser launch/patient patient/*.read' });
  const wizard = await openWizard(page, issuerOnPort(new URL(sandbox.general.origin).port), `Stale review ${suffix}`);
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  const review = wizard.getByTestId('request-preview');
  const register = wizard.getByRole('button', { name: 'Register', exact: true });
  await expect(review).toContainText('https://app.example.com/callback');
  await expect(register).toBeEnabled();

  // Edited after the prefill: the review no longer shows what would be sent, so Register is off.
  const edited = 'https://app.example.com/edited-callback';
  await wizard.getByLabel('Redirect URIs', { exact: true }).fill(edited);
  await expect(wizard.getByTestId('review-stale')).toHaveText(/Changed since the last check/);
  await expect(review).toHaveCount(0);
  await expect(register).toBeDisabled();
  // Enter in a metadata field does not submit the unchecked values either.
  await wizard.getByLabel('Client name').press('Enter');
  await expect(register).toBeDisabled();
  expect(await query("select o.id from registration_operations o join apps a on a.id = o.app_id where a.name = $1", [`Stale review ${suffix}`])).toHaveLength(0);

  await wizard.getByRole('button', { name: 'Check again' }).click();
  await expect(wizard.getByTestId('review-stale')).toHaveCount(0);
  await expect(review).toContainText(edited);
  await expect(register).toBeEnabled();
  const shown = JSON.parse((await review.textContent())!) as Record<string, unknown>;
  expect(shown.redirect_uris).toEqual([edited]);

  await register.click();
  await expect(page.getByText('Registered. The hospital issued the client below')).toBeVisible();
  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  // What was sent (the intent row's request) is the JSON the review showed, member for member.
  const [sent] = await query<{ request: Record<string, unknown>; redirect_uris: string[] }>(
    "select o.request, r.requested_metadata->'redirect_uris' as redirect_uris from registration_operations o join registrations r on r.id = o.registration_id where r.client_id = $1",
    [clientId],
  );
  expect(sent?.request).toEqual(shown);
  expect(sent?.redirect_uris).toEqual([edited]);
  await context.close();
});

test('a health system without an issuer is offered under "Add an issuer to"', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const name = `No issuer yet ${Date.now().toString(36)}`;
  await page.goto('/health-systems');
  await page.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create health system' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  expect(await query('select i.id from issuers i join health_systems h on h.id = i.health_system_id where h.name = $1', [name])).toHaveLength(0);

  await page.goto('/registrations/new');
  const addTo = page.getByLabel('Add an issuer to');
  await expect(addTo.locator('option').filter({ hasText: name })).toHaveCount(1);
  await addTo.selectOption({ label: name });
  const [system] = await query<{ id: string }>('select id::text as id from health_systems where name = $1', [name]);
  await expect(addTo).toHaveValue(system!.id);
  await expect(page.getByRole('form', { name: 'Add issuer' }).getByLabel('Issuer or FHIR base URL')).toBeVisible();
  await context.close();
});

test('changing the environment after editing the metadata asks first: keeping keeps the edits, discarding starts again from the new environment', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  const appName = `Two envs ${suffix}`;
  await createHealthSystemWithIssuer(page, `Envs ${suffix}`, sandbox.general.fhirBase);
  // An app with production and staging, each with its own redirect URI.
  await page.goto('/apps/new');
  const appForm = page.getByRole('form', { name: 'New app' });
  await appForm.getByLabel('Name', { exact: true }).fill(appName);
  await appForm.getByLabel('software_id').fill(`com.example.two-envs-${suffix}`);
  await appForm.getByLabel('Add environment').fill('staging');
  await appForm.getByLabel('Add environment').press('Enter');
  for (const [env, uri] of [['production', 'https://app.example.com/prod-callback'], ['staging', 'https://staging.example.com/callback']] as const) {
    const card = appForm.locator('section').filter({ has: page.getByRole('heading', { name: `Environment: ${env}`, exact: true }) });
    await card.getByLabel('Redirect URIs (one per line, exact)').fill(uri);
    await card.getByLabel('Token endpoint auth method').selectOption('client_secret_basic');
  }
  await appForm.getByRole('button', { name: 'Create app' }).click();
  await expect(page.getByRole('heading', { name: appName })).toBeVisible();

  const wizard = await openWizard(page, issuerOnPort(new URL(sandbox.general.origin).port), appName);
  const environment = wizard.getByLabel('Environment', { exact: true });
  const redirectUris = wizard.getByLabel('Redirect URIs', { exact: true });
  const prefill = wizard.getByRole('button', { name: 'Prefill from the app profile' });
  const confirm = wizard.getByTestId('discard-edits-confirm');
  // Nothing prefilled yet: choosing the environment asks nothing.
  await environment.selectOption('production');
  await expect(confirm).toHaveCount(0);
  await prefill.click();
  await expect(redirectUris).toHaveValue('https://app.example.com/prod-callback');

  // Nothing edited: nothing to lose, so no question.
  await environment.selectOption('staging');
  await expect(confirm).toHaveCount(0);
  await expect(wizard.getByRole('heading', { name: '3. Metadata' })).toHaveCount(0);
  await environment.selectOption('production');
  await prefill.click();
  await expect(redirectUris).toHaveValue('https://app.example.com/prod-callback');

  const edited = 'https://app.example.com/prod-callback-edited';
  await redirectUris.fill(edited);
  await environment.selectOption('staging');
  await expect(confirm).toContainText('Switch the environment to staging?');
  await expect(environment).toHaveValue('production');
  await confirm.getByRole('button', { name: 'Keep my edits' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(environment).toHaveValue('production');
  await expect(redirectUris).toHaveValue(edited);

  // Prefilling again would replace the edits too: it asks as well.
  await prefill.click();
  await expect(confirm).toContainText('Prefill again?');
  await confirm.getByRole('button', { name: 'Keep my edits' }).click();
  await expect(redirectUris).toHaveValue(edited);

  await environment.selectOption('staging');
  await confirm.getByRole('button', { name: 'Discard my edits and switch' }).click();
  await expect(environment).toHaveValue('staging');
  await expect(wizard.getByRole('heading', { name: '3. Metadata' })).toHaveCount(0);
  await prefill.click();
  await expect(redirectUris).toHaveValue('https://staging.example.com/callback');
  await expect(wizard.getByTestId('request-preview')).toContainText('https://staging.example.com/callback');
  await expect(wizard.getByTestId('request-preview')).not.toContainText('prod-callback');
  expect(await query('select o.id from registration_operations o join apps a on a.id = o.app_id where a.name = $1', [appName])).toHaveLength(0);
  await context.close();
});

test('an app whose profile signs a software statement starts the wizard with “sign one with the app’s key”; the app page lists where its statement keys are published', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  const appName = `Signed ${suffix}`;
  await createHealthSystemWithIssuer(page, `Signed ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, appName, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid' });
  const appUrl = page.url();
  const statementKeys = page.getByRole('table', { name: 'Published public keys' }).getByRole('row').filter({ hasText: 'Software statements' });
  await expect(statementKeys).toContainText(/\/api\/jwks\/[0-9a-f-]+\/production\/software-statement/);
  await expect(statementKeys).toContainText('none yet');

  // Unticked (the default): the wizard starts with no statement.
  let wizard = await openWizard(page, issuerOnPort(new URL(sandbox.general.origin).port), appName);
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByLabel('Software statement', { exact: true })).toHaveValue('none');

  await page.goto(appUrl);
  const form = page.getByRole('form', { name: 'Edit app' });
  await form.getByLabel(/Sign a software statement/).check();
  await form.getByRole('button', { name: 'Save new version' }).click();
  await expect(page.getByText('Saved as version 2.')).toBeVisible();
  wizard = await openWizard(page, issuerOnPort(new URL(sandbox.general.origin).port), appName, 2);
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByLabel('Software statement', { exact: true })).toHaveValue('sign');
  await context.close();
});

test('Register whose answer is lost on the way back: the page says so and keeps the submission, and Register again finishes it without a second client', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  const appName = `Lost answer ${suffix}`;
  await createHealthSystemWithIssuer(page, `Lost ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, appName, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid' });
  const wizard = await openWizard(page, issuerOnPort(new URL(sandbox.general.origin).port), appName);
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByTestId('request-preview')).toBeVisible();

  // The first Register reaches Registrar (which registers the client) but its answer never arrives.
  let lost = 0;
  await page.route('**/registrations/new', async (route) => {
    if (route.request().method() === 'POST' && (route.request().postData() ?? '').includes('idempotencyKey') && lost === 0) {
      lost++;
      await route.fetch();
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(wizard.getByRole('alert').filter({ hasText: /answer did not arrive/ })).toBeVisible();
  const count = async () =>
    (await query<{ n: string }>('select count(*)::text as n from registrations r join apps a on a.id = r.app_id where a.name = $1', [appName]))[0]!.n;
  expect(await count()).toBe('1');

  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.getByText('Registered. The hospital issued the client below')).toBeVisible();
  expect(lost).toBe(1);
  expect(await count()).toBe('1');
  expect(await query('select o.id from registration_operations o join apps a on a.id = o.app_id where a.name = $1', [appName])).toHaveLength(1);
  await context.close();
});

test('support and manager cannot start the wizard or reveal a secret', async ({ browser }) => {
  for (const role of ['support', 'manager'] as const) {
    const context = await browser.newContext({ storageState: storageStateFor(role) });
    const page = await context.newPage();
    await page.goto('/registrations');
    await expect(page.getByRole('link', { name: 'Onboard a hospital' })).toHaveCount(0);
    await page.goto('/registrations/new');
    await expect(page.getByRole('heading', { name: 'Not available for your role' })).toBeVisible();
    // Runs after the onboarding tests of this file (one worker, in order), so a registration exists.
    const [reg] = await query<{ id: string }>('select id from registrations order by created_at limit 1');
    expect(reg).toBeTruthy();
    await page.goto(`/registrations/${reg!.id}`);
    await expect(page.getByTestId('client-id')).toBeVisible();
    await expect(page.getByRole('button', { name: /Reveal/ })).toHaveCount(0);
    await context.close();
  }
});
