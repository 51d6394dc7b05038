import { expect, type Page } from '@playwright/test';
import { query } from './context';

/**
 * Creates a health system and adds an issuer to it through the UI. An authorization server can be
 * added once per installation and several specs use the same sandbox server: whichever comes
 * second sees "already been added", and the issuer stays reachable from the wizard.
 */
export async function createHealthSystemWithIssuer(page: Page, name: string, url: string) {
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

export type AppInput = { authMethod: string; redirect: string; scope: string; grantTypes?: string[] };

/** Creates an app profile (version 1) with one production environment through the UI. */
export async function createApp(page: Page, name: string, env: AppInput) {
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

/**
 * Runs the onboarding wizard for an app at the issuer whose option matches `issuerLabel`, and
 * returns the new registration's page URL, client id and id.
 */
export async function onboard(page: Page, issuerLabel: RegExp, appName: string, opts: { initialAccessToken?: string; screenshot?: string } = {}) {
  await page.goto('/registrations/new');
  const wizard = page.getByRole('form', { name: 'Onboard a hospital' });
  const issuerSelect = wizard.getByLabel('Issuer', { exact: true });
  const value = await issuerSelect.locator('option').filter({ hasText: issuerLabel }).first().getAttribute('value');
  await issuerSelect.selectOption(value!);
  await wizard.getByLabel('App', { exact: true }).selectOption({ label: `${appName} (v1)` });
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  await expect(wizard.getByTestId('request-preview')).toBeVisible();
  if (opts.initialAccessToken) await wizard.getByLabel(/Initial access token/).fill(opts.initialAccessToken);
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.getByText('Registered. The hospital issued the client below')).toBeVisible();
  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  const [row] = await query<{ id: string }>('select id::text as id from registrations where client_id = $1', [clientId]);
  return { url: page.url().replace(/\?.*$/, ''), clientId, id: row!.id };
}

/** The wizard's option label for a sandbox server on this port. */
export const issuerOnPort = (port: string) => new RegExp(`127\\.0\\.0\\.1:${port}`);
