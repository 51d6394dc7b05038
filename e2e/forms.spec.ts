import { expect, test } from '@playwright/test';
import { storageStateFor } from './support/context';
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
