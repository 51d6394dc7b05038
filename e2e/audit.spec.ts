import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { storageStateFor } from './support/context';

test('a manager filters the audit log by action and outcome and exports it as CSV', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('manager') });
  const page = await context.newPage();
  await page.goto('/audit');
  const filters = page.getByRole('search', { name: 'Filter audit log' });
  await filters.getByLabel('Action').fill('auth.sign_in');
  await filters.getByLabel('Outcome').selectOption('success');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=auth.sign_in/);
  const cells = page.getByRole('table', { name: 'Audit entries' }).getByRole('cell', { name: 'auth.sign_in' });
  await expect(cells.first()).toBeVisible();
  const actions = await page.getByRole('table', { name: 'Audit entries' }).locator('tbody tr td:nth-child(3)').allTextContents();
  expect(new Set(actions)).toEqual(new Set(['auth.sign_in']));

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  const lines = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
  expect(lines[0]).toBe('id,at,actor_type,actor,role,action,target_type,target_id,outcome,request_id,details');
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines.slice(1)) expect(line).toContain(',auth.sign_in,');
  await context.close();
});
