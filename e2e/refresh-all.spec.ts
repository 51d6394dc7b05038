import { expect, test } from '@playwright/test';
import { storageStateFor } from './support/context';

test('refresh all stops following its progress, says why and frees the button when the progress cannot be read', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  await page.goto('/health-systems');
  // The start goes through; every progress request after it fails (a server restarting, say).
  let actions = 0;
  await page.route('**/health-systems', async (route) => {
    if (route.request().method() === 'POST' && route.request().headers()['next-action'] && ++actions > 1) return route.fulfill({ status: 503, body: 'unavailable' });
    return route.continue();
  });
  await page.getByRole('button', { name: 'Refresh all issuers' }).click();
  await expect(page.getByText('progress could not be read ten times in a row')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole('button', { name: 'Refresh all issuers' })).toBeEnabled();
  await context.close();
});
