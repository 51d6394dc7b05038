import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { e2eContext, query, STATE_DIR } from './support/context';

test('the set-up link printed at start creates the first admin, once', async ({ page }) => {
  const { setupLink } = e2eContext();
  expect(setupLink, 'the server printed a set-up link because it started with no users').toBeTruthy();
  const users = await query('select count(*)::int as n from users');
  expect(users[0]?.n).toBe(0);

  await page.goto(setupLink!);
  await page.getByLabel('Email').fill('First.Admin@Example.test');
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByLabel('Confirm password').fill('short');
  await page.getByRole('button', { name: 'Create admin' }).click();
  await expect(page.getByText('at least 12 characters')).toBeVisible();

  const password = 'first-admin-password-e2e';
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  await page.getByRole('button', { name: 'Create admin' }).click();
  await expect(page.getByTestId('current-user')).toContainText('admin');

  const rows = await query<{ email: string; role: string }>('select email, role from users');
  expect(rows).toEqual([{ email: 'first.admin@example.test', role: 'admin' }]);
  writeFileSync(path.join(STATE_DIR, 'admin-credentials.json'), JSON.stringify({ email: 'first.admin@example.test', password }), { mode: 0o600 });

  // The link is spent: opening it again says so.
  await page.context().clearCookies();
  await page.goto(setupLink!);
  await expect(page.getByText('invalid, used or expired')).toBeVisible();
});
