import { expect, test } from '@playwright/test';
import { e2eContext, query, storageStateFor } from './support/context';
import { createApp, createHealthSystemWithIssuer, issuerOnPort, onboard } from './support/flows';

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
