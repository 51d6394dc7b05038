import { expect, test, type Page } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';

async function createHealthSystemWithIssuer(page: Page, name: string, url: string) {
  await page.goto('/health-systems');
  await page.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create health system' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  const add = page.getByRole('form', { name: 'Add issuer' });
  await add.getByLabel('Issuer or FHIR base URL').fill(url);
  await add.getByLabel('Environment', { exact: true }).selectOption('sandbox');
  await add.getByRole('button', { name: 'Discover and add' }).click();
  // Another spec may have added this sandbox server already (one issuer per URL per installation);
  // the wizard lists it either way.
  await expect(page.getByTestId('endpoints').or(add.getByText('has already been added'))).toBeVisible();
}

async function createApp(page: Page, name: string, env: { authMethod: string; redirect: string; scope: string; grantTypes?: string[] }) {
  await page.goto('/apps/new');
  const form = page.getByRole('form', { name: 'New app' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('software_id').fill(`com.example.${name.toLowerCase().replace(/\W+/g, '-')}`);
  await form.getByLabel('Redirect URIs (one per line, exact)').fill(env.redirect);
  await form.getByLabel('Scopes').fill(env.scope);
  await form.getByLabel('Token endpoint auth method').selectOption(env.authMethod);
  for (const g of env.grantTypes ?? []) await form.getByLabel(g, { exact: true }).check();
  await form.getByRole('button', { name: 'Create app' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
}

async function onboard(page: Page, issuerLabel: RegExp, appName: string, initialAccessToken?: string) {
  await page.goto('/registrations/new');
  const wizard = page.getByRole('form', { name: 'Onboard a hospital' });
  const issuerSelect = wizard.getByLabel('Issuer', { exact: true });
  const value = await issuerSelect.locator('option').filter({ hasText: issuerLabel }).first().getAttribute('value');
  await issuerSelect.selectOption(value!);
  await wizard.getByLabel('App', { exact: true }).selectOption({ label: `${appName} (v1)` });
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByTestId('request-preview')).toBeVisible();
  if (initialAccessToken) await wizard.getByLabel(/Initial access token/).fill(initialAccessToken);
  await page.screenshot({ path: `test-results/artifacts/onboarding-review-${appName.replace(/\W+/g, '-')}.png`, fullPage: true });
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.getByText('Registered. The hospital issued the client below')).toBeVisible();
}

test('ops onboards General Hospital end to end and reveals the secret once, audited', async ({ browser }) => {
  const { sandbox } = e2eContext();
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  await createHealthSystemWithIssuer(page, `General ${suffix}`, sandbox.general.fhirBase);
  await createApp(page, `Charts ${suffix}`, { authMethod: 'client_secret_basic', redirect: 'https://app.example.com/callback', scope: 'openid fhirUser launch/patient patient/*.read' });
  await onboard(page, new RegExp(`127\\.0\\.0\\.1:${new URL(sandbox.general.origin).port}`), `Charts ${suffix}`);

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
  await onboard(page, new RegExp(`127\\.0\\.0\\.1:${new URL(sandbox.mercy.origin).port}`), `Backend ${suffix}`, token);
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
