import { createHash } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { query, storageStateFor } from './support/context';

test('an admin creates an API token (shown once, stored hashed), it works within its permissions, and revoking it stops it at once', async ({ browser, request }) => {
  const context = await browser.newContext({ storageState: storageStateFor('admin') });
  const page = await context.newPage();
  const name = `e2e-deploy-${Date.now().toString(36)}`;
  await page.goto('/settings/api-tokens');
  const form = page.getByRole('form', { name: 'Create API token' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Role').selectOption('ops');
  await form.getByLabel('credentials:read').check();
  await form.getByLabel('Expires in days').fill('30');
  await form.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByTestId('new-api-token');
  await expect(shown).toBeVisible();
  const token = (await shown.textContent())!.trim();
  expect(token).toMatch(/^rgt_[A-Za-z0-9_-]{43}$/);

  const rows = await query<{ token_hash: string; prefix: string; permissions: string[]; role: string }>('select token_hash, prefix, permissions, role from api_tokens where name = $1', [name]);
  expect(rows).toEqual([{ token_hash: createHash('sha256').update(token).digest('hex'), prefix: token.slice(0, 12), permissions: ['credentials:read'], role: 'ops' }]);

  const me = await request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
  expect(me.status()).toBe(200);
  expect(await me.json()).toMatchObject({ name, role: 'ops', permissions: ['credentials:read'] });
  const refused = await request.get('/api/v1/registrations', { headers: { authorization: `Bearer ${token}` } });
  expect(refused.status()).toBe(403);
  expect(refused.headers()['content-type']).toContain('application/problem+json');
  expect(await refused.json()).toMatchObject({ status: 403, code: 'FORBIDDEN' });

  // Shown once: after a reload only the prefix is listed.
  await page.reload();
  await expect(page.getByTestId('new-api-token')).toHaveCount(0);
  await expect(page.getByText(`${token.slice(0, 12)}…`)).toBeVisible();
  expect(await page.content()).not.toContain(token);

  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(page.getByRole('row', { name: new RegExp(name) }).getByText('revoked')).toBeVisible();
  const after = await request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
  expect(await after.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: 'This API token was revoked.' });
  await context.close();
});

test('the API page renders the OpenAPI document for any signed-in user; only admins manage tokens', async ({ browser, request }) => {
  const context = await browser.newContext({ storageState: storageStateFor('support') });
  const page = await context.newPage();
  await page.goto('/api-docs');
  await expect(page.getByRole('heading', { name: 'API', exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'POST /api/v1/registrations', exact: true })).toContainText('Idempotency-Key');
  await expect(page.getByRole('region', { name: 'GET /api/v1/registrations/{id}/credentials', exact: true })).toContainText('credentials:read');
  await expect(page.locator('#problem-RATE_LIMITED')).toContainText('429');
  const doc = await request.get('/api/v1/openapi.json');
  expect(doc.status()).toBe(200);
  expect((await doc.json()).openapi).toBe('3.1.0');
  await page.goto('/settings/api-tokens');
  await expect(page).toHaveURL(/\/forbidden/);
  const unknown = await request.get('/api/v1/nothing-here');
  expect(unknown.status()).toBe(404);
  expect(unknown.headers()['content-type']).toContain('application/problem+json');
  await context.close();
});
