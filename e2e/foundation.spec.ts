import { expect, test, type Browser } from '@playwright/test';
import { createUserWithCli, query, storageStateFor, uniqueEmail, type Role } from './support/context';
import { signIn } from './support/sign-in';

const NAV: Record<Role, string[]> = {
  admin: ['Overview', 'Health systems', 'Registrations', 'Apps', 'Diagnose', 'Audit', 'Settings'],
  ops: ['Overview', 'Health systems', 'Registrations', 'Apps', 'Diagnose'],
  manager: ['Overview', 'Health systems', 'Registrations', 'Apps', 'Audit'],
  support: ['Overview', 'Health systems', 'Registrations', 'Apps', 'Diagnose'],
};

async function pageAs(browser: Browser, role: Role) {
  const context = await browser.newContext({ storageState: storageStateFor(role) });
  return { context, page: await context.newPage() };
}

for (const role of Object.keys(NAV) as Role[]) {
  test(`${role} signs in and sees exactly their navigation`, async ({ browser }) => {
    const { context, page } = await pageAs(browser, role);
    await page.goto('/');
    await expect(page.getByTestId('current-user')).toContainText(role);
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link')).toHaveText(NAV[role]);
    await context.close();
  });
}

test('support is refused the audit log and settings pages; manager reads the audit log', async ({ browser }) => {
  const support = await pageAs(browser, 'support');
  await support.page.goto('/audit');
  await expect(support.page.getByRole('heading', { name: 'Not available for your role' })).toBeVisible();
  await support.page.goto('/settings');
  await expect(support.page.getByRole('heading', { name: 'Not available for your role' })).toBeVisible();
  await support.context.close();
  // Each refusal is audited with the page asked for.
  const denied = await query<{ path: string }>(
    "select details->>'path' as path from audit_log where action = 'page.open' and outcome = 'denied' and actor_label = 'support@example.test' and details->>'path' in ('/audit', '/settings') order by id desc limit 2",
  );
  expect(denied.map((d) => d.path).sort()).toEqual(['/audit', '/settings']);

  const manager = await pageAs(browser, 'manager');
  await manager.page.goto('/audit');
  await expect(manager.page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await expect(manager.page.getByRole('cell', { name: 'auth.sign_in' }).first()).toBeVisible();
  await manager.context.close();
});

test("a support user's direct POST to an admin-only server action is refused and changes nothing", async ({ browser }) => {
  // Capture the real action request the admin's browser sends when creating a user...
  const admin = await pageAs(browser, 'admin');
  await admin.page.goto('/settings');
  // Which key seals secrets is shown to admins here (the public /api/health no longer names it).
  await expect(admin.page.getByTestId('vault-status')).toContainText(/Encryption key \S+ \(version \d+\)/);
  const adminEmail = uniqueEmail('made-by-admin');
  const form = admin.page.getByRole('form', { name: 'Create user' });
  await form.getByLabel('Email').fill(adminEmail);
  const [request] = await Promise.all([
    admin.page.waitForRequest((r) => r.method() === 'POST' && Boolean(r.headers()['next-action'])),
    form.getByRole('button', { name: 'Create user' }).click(),
  ]);
  await expect(admin.page.getByTestId('one-time-password')).toBeVisible();
  const actionId = request.headers()['next-action']!;
  const body = request.postData()!;
  await admin.context.close();

  // ...and replay it with a support user's session and another email.
  const support = await pageAs(browser, 'support');
  const forgedEmail = uniqueEmail('forged');
  const response = await support.page.request.post('/settings', {
    headers: { 'Next-Action': actionId, 'Content-Type': request.headers()['content-type'] ?? 'text/plain;charset=UTF-8', Accept: 'text/x-component' },
    data: body.replace(adminEmail, forgedEmail),
  });
  const text = await response.text();
  expect(text).toContain('FORBIDDEN');
  expect(await query('select id from users where email = $1', [forgedEmail])).toHaveLength(0);
  const denied = await query<{ outcome: string; role: string }>(
    "select outcome, role from audit_log where action = 'action.createUser' and role = 'support' order by id desc limit 1",
  );
  expect(denied[0]).toEqual({ outcome: 'denied', role: 'support' });
  await support.context.close();
});

test('a deactivated user is signed out on their next request', async ({ browser }) => {
  const email = uniqueEmail('leaver');
  const password = createUserWithCli(email, 'ops');
  const leaverContext = await browser.newContext();
  const leaver = await leaverContext.newPage();
  await signIn(leaver, email, password);

  const admin = await pageAs(browser, 'admin');
  await admin.page.goto('/settings');
  await admin.page.getByTestId(`user-row-${email}`).getByRole('button', { name: /Deactivate/ }).click();
  await expect(admin.page.getByText(`${email} deactivated.`)).toBeVisible();
  expect((await query<{ is_active: boolean }>('select is_active from users where email = $1', [email]))[0]?.is_active).toBe(false);
  await admin.context.close();

  await leaver.goto('/health-systems');
  await expect(leaver).toHaveURL(/\/signin\?reason=deactivated/);
  await expect(leaver.getByText('no longer active')).toBeVisible();
  // The session cookie was cleared: the dashboard stays closed.
  await leaver.goto('/');
  await expect(leaver).toHaveURL(/\/signin/);
  await leaverContext.close();
});

test('a password reset ends the user’s existing sessions, and a reactivated user’s old cookie stays dead', async ({ browser }) => {
  const email = uniqueEmail('reset');
  const password = createUserWithCli(email, 'ops');
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  await signIn(user, email, password);
  // A copy of the cookie, as a thief would hold it.
  const stolen = await userContext.storageState();

  const admin = await pageAs(browser, 'admin');
  await admin.page.goto('/settings');
  await admin.page.getByTestId(`user-row-${email}`).getByRole('button', { name: 'Reset password' }).click();
  await expect(admin.page.getByTestId('one-time-password')).toBeVisible();
  await expect.poll(async () => (await query<{ n: number }>('select count(*)::int as n from users where email = $1 and sessions_valid_after is not null', [email]))[0]?.n).toBe(1);

  await user.goto('/health-systems');
  await expect(user).toHaveURL(/\/signin\?reason=session-ended/);
  await expect(user.getByText('password was reset')).toBeVisible();
  const thief = await browser.newContext({ storageState: stolen });
  const thiefPage = await thief.newPage();
  await thiefPage.goto('/health-systems');
  await expect(thiefPage).toHaveURL(/\/signin/);

  // The user signs in with the new password; then the account is deactivated and reactivated:
  // the cookie from before does not come back to life with the account.
  const newPassword = (await admin.page.getByTestId('one-time-password').innerText()).trim();
  await signIn(user, email, newPassword);
  await user.goto('/health-systems');
  await expect(user).toHaveURL(/\/health-systems/);
  const row = admin.page.getByTestId(`user-row-${email}`);
  await row.getByRole('button', { name: /Deactivate/ }).click();
  await expect(admin.page.getByText(`${email} deactivated.`)).toBeVisible();
  await row.getByRole('button', { name: /Reactivate/ }).click();
  await expect(admin.page.getByText(`${email} reactivated.`)).toBeVisible();
  await user.goto('/health-systems');
  await expect(user).toHaveURL(/\/signin\?reason=session-ended/);
  await admin.context.close();
  await thief.close();
  await userContext.close();
});

test('signing out ends the session', async ({ browser }) => {
  const email = uniqueEmail('signout');
  const password = createUserWithCli(email, 'support');
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, email, password);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/signin/);
  // Audited as the user, beside the sign-in.
  await expect
    .poll(async () => (await query<{ n: string }>("select count(*)::text as n from audit_log where action = 'auth.sign_out' and actor_label like $1", [`%${email}%`]))[0]?.n)
    .toBe('1');
  await context.close();
});

test('a signed-out user who opens a shared link signs in and lands on that link, not the overview; a crafted callback cannot leave the site', async ({ browser }) => {
  const email = uniqueEmail('returnto');
  const password = createUserWithCli(email, 'support');
  const context = await browser.newContext();
  const page = await context.newPage();
  const shared = '/diagnose?mode=client&client_id=shared-link-client';
  await page.goto(shared);
  await expect(page).toHaveURL(/\/signin\?callbackUrl=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL((url) => `${url.pathname}${url.search}` === shared);
  await expect(page.getByTestId('current-user')).toBeVisible();

  // Signed in, a sign-in link that names another site goes home instead.
  await page.goto('/signin?callbackUrl=%2F%2Fevil.example%2Fsteal');
  await expect(page).toHaveURL(/^http:\/\/(localhost|127\.0\.0\.1):\d+\/$/);
  await context.close();
});

test('a wrong password gets one generic message', async ({ page }) => {
  await page.goto('/signin');
  await page.getByLabel('Email').fill('nobody@example.test');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Sign-in failed' })).toBeVisible();
});
