import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from '@playwright/test';
import { createUserWithCli, ROLES, STATE_DIR, storageStateFor } from './support/context';
import { signIn } from './support/sign-in';

// One signed-in browser state per role, created through the real sign-in form.
for (const role of ROLES) {
  test(`sign in as ${role}`, async ({ page }) => {
    let email: string;
    let password: string;
    if (role === 'admin') {
      ({ email, password } = JSON.parse(readFileSync(path.join(STATE_DIR, 'admin-credentials.json'), 'utf8')) as { email: string; password: string });
    } else {
      email = `${role}@example.test`;
      password = createUserWithCli(email, role);
    }
    await signIn(page, email, password);
    await page.context().storageState({ path: storageStateFor(role) });
  });
}
