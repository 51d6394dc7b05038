import { execSync } from 'node:child_process';
import { defineConfig } from '@playwright/test';

/** CHROMIUM_PATH, else Debian's `chromium` on the PATH, else Playwright's own browser. */
function chromiumPath(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execSync('command -v chromium', { encoding: 'utf8', shell: '/bin/sh' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const port = process.env.E2E_PORT ?? '3100';

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 2,
  retries: 0,
  // A hang guard, not a speed check: a whole flow (health system, issuer, app, onboarding, then
  // management) takes 20–35 s with two workers on two cores.
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['json', { outputFile: '.data/reports/playwright.json' }], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    baseURL: `http://localhost:${port}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromiumPath(),
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu', '--no-first-run'],
    },
  },
  projects: [
    { name: 'first-admin', testMatch: /first-admin\.setup\.ts/ },
    { name: 'roles', testMatch: /roles\.setup\.ts/, dependencies: ['first-admin'] },
    { name: 'chromium', testMatch: /.*\.spec\.ts/, dependencies: ['roles'] },
  ],
  webServer: {
    command: 'npx tsx --conditions=react-server scripts/e2e-server.ts',
    url: `http://localhost:${port}/api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: { E2E_PORT: port },
  },
});
