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

test('an audit entry about a registration links to it and shows its details; later pages stay put while the log grows', async ({ browser }) => {
  // An entry to look at: ops create a health system.
  const ops = await browser.newContext({ storageState: storageStateFor('ops') });
  const opsPage = await ops.newPage();
  const name = `Audited ${Date.now().toString(36)}`;
  await opsPage.goto('/health-systems');
  await opsPage.getByRole('form', { name: 'New health system' }).getByLabel('Name').fill(name);
  await opsPage.getByRole('button', { name: 'Create health system' }).click();
  await expect(opsPage.getByRole('heading', { name })).toBeVisible();
  await ops.close();

  const context = await browser.newContext({ storageState: storageStateFor('manager') });
  const page = await context.newPage();
  await page.goto('/audit?action=health_system.create');
  const table = page.getByRole('table', { name: 'Audit entries' });
  const first = table.locator('tbody tr').first();
  const target = first.getByRole('link', { name: /^health_system:/ });
  await expect(target).toBeVisible();
  await first.getByText('details').click();
  await expect(first.locator('pre')).toContainText(`"name": "${name}"`);
  const href = await target.getAttribute('href');
  expect(href).toMatch(/^\/health-systems\/[0-9a-f-]{36}$/);
  // Paging carries the snapshot (asOf), so entries written meanwhile do not shift page 2.
  await page.goto('/audit?pageSize=1');
  const next = page.getByRole('navigation', { name: 'Pagination' }).getByRole('link', { name: 'Next' });
  await expect(next).toHaveAttribute('href', /asOf=\d+/);
  await context.close();
});
