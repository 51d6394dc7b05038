import { expect, test, type Page } from '@playwright/test';
import { query, storageStateFor } from './support/context';

// A hospital, an issuer as discovery would have stored it, an app and its registration, written
// with SQL so the spec needs no outbound call. Host names are unique per run.
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const origin = `https://ehr-${suffix}.hospital.test`;
const fhirBase = `${origin}/fhir/r4`;
const authorize = `${origin}/oauth2/authorize`;
const clientId = `diag-${suffix}`;
const registered = 'https://app.example.com/callback';

test.beforeAll(async () => {
  const [system] = await query<{ id: string }>('insert into health_systems (name) values ($1) returning id', [`Diagnose Hospital ${suffix}`]);
  const [issuer] = await query<{ id: string }>(
    `insert into issuers (health_system_id, environment, input_url, issuer_url, fhir_base_url, endpoints, scopes_supported, code_challenge_methods_supported)
     values ($1, 'production', $2, $3, $2, $4::jsonb, $5::text[], $6::text[]) returning id`,
    [
      system!.id,
      fhirBase,
      `${origin}/oauth2`,
      JSON.stringify({ authorization: { value: authorize, source: 'smart-configuration', conflicts: [] }, token: { value: `${origin}/oauth2/token`, source: 'smart-configuration', conflicts: [] } }),
      ['openid', 'fhirUser', 'launch/patient', 'patient/*.rs'],
      ['S256'],
    ],
  );
  const [app] = await query<{ id: string }>('insert into apps (name, software_id) values ($1, $2) returning id', [`Diagnose App ${suffix}`, `com.example.diagnose.${suffix}`]);
  await query(
    `insert into registrations (issuer_id, app_id, app_version, environment, client_id, auth_method, requested_metadata, registered_metadata, secret_expiry_kind)
     values ($1, $2, 1, 'production', $3, 'none', $4::jsonb, $5::jsonb, 'none')`,
    [
      issuer!.id,
      app!.id,
      clientId,
      JSON.stringify({ redirect_uris: [registered], scope: 'openid fhirUser launch/patient patient/Observation.rs' }),
      JSON.stringify({ client_id: clientId, redirect_uris: [registered, 'http://127.0.0.1/cb'], scope: 'openid fhirUser launch/patient patient/Observation.rs', response_types: ['code'] }),
    ],
  );
});

/** The authorization URL the app opened, complete and valid except for the redirect URI given. */
function authorizationUrl(redirectUri: string): string {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid fhirUser launch/patient patient/Observation.rs',
    state: 'e2e-state-1234',
    aud: fhirBase,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  return `${authorize}?${params.toString()}`;
}

const findingCodes = (page: Page) => page.getByTestId('findings').getByTestId('finding-code').allTextContents();

async function diagnoseUrl(page: Page, url: string) {
  await page.goto('/diagnose');
  const form = page.getByRole('form', { name: 'Diagnose an authorization URL' });
  await form.getByLabel('Authorization request URL').fill(url);
  await form.getByRole('button', { name: 'Diagnose' }).click();
  await expect(page.getByTestId('verdict')).toBeVisible();
}

test('support diagnoses a trailing-slash mismatch from an authorization URL, and the shared link reproduces it', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('support') });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  await diagnoseUrl(page, authorizationUrl(`${registered}/`));

  await expect(page.getByTestId('verdict')).toHaveText('No match');
  expect(await findingCodes(page)).toEqual(['TRAILING_SLASH']);
  await expect(page.locator('[data-code="TRAILING_SLASH"]')).toContainText(`Either change the app to send exactly '${registered}'`);
  // Character-level highlight: the extra slash is inserted text with words for screen readers.
  const presented = page.getByTestId('highlight-presented');
  await expect(presented.locator('ins')).toHaveCount(1);
  await expect(presented.locator('ins')).toContainText('only in the presented URI');
  await expect(page.getByTestId('highlight-registered')).toHaveText(registered);
  await expect(page.getByTestId('highlight-registered').locator('del')).toHaveCount(0);
  // The rest of the request is fine; the other registered URI is listed.
  for (const check of ['response_type', 'scope', 'pkce', 'aud', 'state']) {
    await expect(page.locator(`[data-check="${check}"]`)).toHaveAttribute('data-status', 'pass');
  }
  await expect(page.locator('[data-check="redirect_uri"]')).toHaveAttribute('data-status', 'fail');
  await expect(page.getByTestId('other-uris')).toContainText('http://127.0.0.1/cb');
  await page.screenshot({ path: 'test-results/artifacts/diagnose.png', fullPage: true });

  // The state is in the URL: the share link (and Copy link) open the same diagnosis elsewhere.
  const href = await page.getByTestId('share-link').getAttribute('href');
  expect(href).toMatch(/^\/diagnose\?mode=url&url=/);
  await page.getByRole('button', { name: 'Copy link' }).click();
  await expect(page.getByRole('button', { name: 'Link copied' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(new URL(href!, page.url()).toString());

  const fresh = await context.newPage();
  await fresh.goto(copied);
  await expect(fresh.getByTestId('verdict')).toHaveText('No match');
  expect(await findingCodes(fresh)).toEqual(['TRAILING_SLASH']);
  await expect(fresh.getByRole('form', { name: 'Diagnose an authorization URL' }).getByLabel('Authorization request URL')).toHaveValue(authorizationUrl(`${registered}/`));
  await context.close();
});

test('support diagnoses a host-case mismatch from an authorization URL', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('support') });
  const page = await context.newPage();
  await diagnoseUrl(page, authorizationUrl('https://App.Example.com/callback'));

  await expect(page.getByTestId('verdict')).toHaveText('No match');
  expect(await findingCodes(page)).toEqual(['HOST_CASE']);
  await expect(page.locator('[data-code="HOST_CASE"]')).toContainText("presented 'App.Example.com', registered 'app.example.com'");
  await expect(page.getByTestId('highlight-registered').locator('del')).toHaveCount(2);
  await expect(page.getByTestId('highlight-presented').locator('ins')).toHaveCount(2);

  const href = await page.getByTestId('share-link').getAttribute('href');
  const fresh = await context.newPage();
  await fresh.goto(href!);
  await expect(fresh.getByTestId('verdict')).toHaveText('No match');
  expect(await findingCodes(fresh)).toEqual(['HOST_CASE']);
  await context.close();
});

test('support gets "Exact match" only for the exact URI, and the loopback rule for a loopback port', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('support') });
  const page = await context.newPage();
  await page.goto('/diagnose');
  await page.getByRole('link', { name: 'Client id + redirect URI' }).click();
  const form = page.getByRole('form', { name: 'Diagnose a client id and redirect URI' });
  await form.getByLabel('Client id').fill(clientId);
  await form.getByLabel('Redirect URI the app sends').fill(registered);
  await form.getByRole('button', { name: 'Diagnose' }).click();
  await expect(page.getByTestId('verdict')).toHaveText('Exact match');
  await expect(page.getByTestId('findings')).toHaveCount(0);

  await page.goto(`/diagnose?mode=client&client_id=${encodeURIComponent(clientId)}&redirect_uri=${encodeURIComponent('http://127.0.0.1:53111/cb')}`);
  await expect(page.getByTestId('verdict')).toHaveText('Matches under the loopback port rule');
  expect(await findingCodes(page)).toEqual(['LOOPBACK_PORT_ALLOWED']);
  await context.close();
});

test('a manager is refused the diagnose page, shared links included', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('manager') });
  const page = await context.newPage();
  await page.goto('/diagnose');
  await expect(page.getByRole('heading', { name: 'Not available for your role' })).toBeVisible();
  await page.goto(`/diagnose?mode=url&url=${encodeURIComponent(authorizationUrl(registered))}`);
  await expect(page.getByRole('heading', { name: 'Not available for your role' })).toBeVisible();
  await expect(page.getByTestId('verdict')).toHaveCount(0);
  await context.close();
});
