import { randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { keyCanary, makeUdapPki, type UdapTestPki } from '../lib/apps/testing/udap-pki';
import { query, storageStateFor } from './support/context';

/**
 * UDAP end to end: the certificate upload on the app page, the wizard's decoded statement, the
 * registration at a UDAP endpoint (on loopback, in this process) that verifies the statement with
 * its x5c leaf; and the operation page for a registration whose outcome is unknown.
 */

let server: http.Server;
let origin = '';
let pki: UdapTestPki;
const accepted: Array<Record<string, unknown>> = [];

test.beforeAll(async () => {
  pki = await makeUdapPki('ES384');
  const trusted = new X509Certificate(pki.caPem);
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      void (async () => {
        res.setHeader('content-type', 'application/json');
        try {
          if (req.url === '/udap/refuse') throw new Error('this community does not trust the certificate');
          const body = JSON.parse(raw) as { software_statement: string; udap: string };
          const header = decodeProtectedHeader(body.software_statement);
          const leafPem = `-----BEGIN CERTIFICATE-----\n${(header.x5c as string[])[0]}\n-----END CERTIFICATE-----`;
          if (body.udap !== '1' || !new X509Certificate(leafPem).checkIssued(trusted)) throw new Error('untrusted');
          const { payload } = await jwtVerify(body.software_statement, await importX509(leafPem, String(header.alg)), { audience: `${origin}${req.url}` });
          if (payload.iss !== pki.sanUri || payload.sub !== pki.sanUri || Number(payload.exp) - Number(payload.iat) > 300) throw new Error('bad claims');
          accepted.push(payload as Record<string, unknown>);
          res.statusCode = 201;
          res.end(JSON.stringify({ client_id: `udap-e2e-${randomUUID().slice(0, 8)}`, client_name: payload.client_name, grant_types: payload.grant_types, token_endpoint_auth_method: 'private_key_jwt', scope: payload.scope }));
        } catch (error) {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: 'invalid_software_statement', error_description: error instanceof Error ? error.message : 'invalid' }));
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await query('insert into outbound_allowlist (entry, note) values ($1, $2) on conflict do nothing', [`http://${new URL(origin).host}`, 'e2e UDAP endpoint']);
});

test.afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function udapIssuer(name: string, path: string) {
  const [system] = await query<{ id: string }>('insert into health_systems (name) values ($1) returning id', [name]);
  const [issuer] = await query<{ id: string }>(
    `insert into issuers (health_system_id, environment, input_url, issuer_url, endpoints, documents_found)
     values ($1, 'production', $2, $2, $3::jsonb, '{udap}') returning id`,
    [system!.id, `${origin}/fhir/${name.replace(/\W+/g, '-')}`, JSON.stringify({ registration: { value: `${origin}${path}`, source: 'udap', conflicts: [] } })],
  );
  return issuer!.id;
}

async function createBackendApp(page: Page, name: string, softwareId: string) {
  await page.goto('/apps/new');
  const form = page.getByRole('form', { name: 'New app' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('software_id').fill(softwareId);
  await form.getByLabel('Scopes').fill('system/Patient.rs');
  await form.getByLabel('authorization_code', { exact: true }).uncheck();
  await form.getByLabel('client_credentials', { exact: true }).check();
  await form.getByRole('button', { name: 'Create app' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  return page.url().split('/apps/')[1]!;
}

async function startWizard(page: Page, issuerId: string, appName: string) {
  await page.goto('/registrations/new');
  const wizard = page.getByRole('form', { name: 'Onboard a hospital' });
  await wizard.getByLabel('Issuer', { exact: true }).selectOption(issuerId);
  await wizard.getByLabel('App', { exact: true }).selectOption({ label: `${appName} (v1)` });
  await wizard.getByRole('button', { name: 'Prefill from the app profile' }).click();
  return wizard;
}

test('ops uploads a UDAP certificate, sees the decoded statement, and registers with it', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  const appName = `UDAP Backend ${suffix}`;
  const softwareId = `com.example.udap-${suffix}`;
  const issuerId = await udapIssuer(`UDAP Hospital ${suffix}`, '/udap/register');
  const appId = await createBackendApp(page, appName, softwareId);

  const upload = page.getByRole('form', { name: 'Upload a UDAP certificate' });
  await upload.getByLabel('…or paste the certificate chain').fill(`${pki.leafPem}${pki.caPem}`);
  await upload.getByLabel('…or paste the private key').fill(pki.otherKeyPem);
  await upload.getByRole('button', { name: 'Upload certificate and key' }).click();
  await expect(upload.getByText('The private key does not match the client certificate').first()).toBeVisible();
  // A refused upload keeps the certificate chain but not the private key (never kept in the page).
  await expect(upload.getByLabel('…or paste the private key')).toHaveValue('');
  await expect(upload.getByLabel('…or paste the certificate chain')).toHaveValue(`${pki.leafPem}${pki.caPem}`);
  await upload.getByLabel('…or paste the private key').fill(pki.leafKeyPem);
  await upload.getByRole('button', { name: 'Upload certificate and key' }).click();
  await expect(upload.getByText(`URI SAN ${pki.sanUri}`)).toBeVisible();
  // The form no longer holds the key, and the page never shows it.
  await expect(upload.getByLabel('…or paste the private key')).toHaveValue('');
  const canary = keyCanary(pki.leafKeyPem);
  expect(canary.foundIn(await page.content())).toBe(false);
  await expect(page.getByRole('table', { name: 'UDAP certificates' })).toContainText(pki.sanUri!);

  const wizard = await startWizard(page, issuerId, appName);
  await expect(wizard.getByLabel('Software statement')).toHaveValue('udap');
  const claims = wizard.getByTestId('udap-statement-claims');
  await expect(claims).toContainText(`"iss": "${pki.sanUri}"`);
  await expect(claims).toContainText(`"aud": "${origin}/udap/register"`);
  await expect(claims).toContainText(`"software_id": "${softwareId}"`);
  await expect(wizard.getByTestId('udap-statement-header')).toContainText('"x5c"');
  await page.screenshot({ path: 'test-results/artifacts/udap-review.png', fullPage: true });
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(page.getByText('Registered. The hospital issued the client below')).toBeVisible();

  const clientId = (await page.getByTestId('client-id').textContent())!.replace('Copy', '').trim();
  const [reg] = await query<{ auth_method: string; udap: string; app_key_id: string }>("select auth_method, requested_metadata->>'udap' as udap, app_key_id from registrations where client_id = $1", [clientId]);
  expect(reg).toMatchObject({ auth_method: 'private_key_jwt', udap: '1' });
  expect(accepted.at(-1)).toMatchObject({ iss: pki.sanUri, software_id: softwareId });
  const [key] = await query<{ purpose: string }>('select purpose from app_keys where id = $1 and app_id = $2', [reg!.app_key_id, appId]);
  expect(key?.purpose).toBe('udap');

  // The key is in no table as text (credentials hold it encrypted).
  const tables = await query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'");
  for (const { table_name } of tables) {
    const [hit] = await query<{ n: number }>(`select count(*)::int as n from "${table_name}" t where t::text like any ($1::text[])`, [canary.fragments.map((f) => `%${f}%`)]);
    expect(hit?.n, table_name).toBe(0);
  }
  await context.close();
});

test('a refused UDAP registration links from the wizard to its operation page', async ({ browser }) => {
  const context = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await context.newPage();
  const suffix = Date.now().toString(36);
  const appName = `UDAP Refused ${suffix}`;
  const issuerId = await udapIssuer(`UDAP Refusing ${suffix}`, '/udap/refuse');
  await createBackendApp(page, appName, `com.example.udap-refused-${suffix}`);
  const upload = page.getByRole('form', { name: 'Upload a UDAP certificate' });
  await upload.getByLabel('…or paste the certificate chain').fill(pki.leafPem);
  await upload.getByLabel('…or paste the private key').fill(pki.leafKeyPem);
  await upload.getByRole('button', { name: 'Upload certificate and key' }).click();
  await expect(upload.getByText(`URI SAN ${pki.sanUri}`)).toBeVisible();

  const wizard = await startWizard(page, issuerId, appName);
  await expect(wizard.getByTestId('udap-preview')).toBeVisible();
  await wizard.getByRole('button', { name: 'Register', exact: true }).click();
  // At the field the hospital named (software_statement), and in the form's summary with its code.
  await expect(wizard.locator('#field-softwareStatementMode-error')).toContainText('this community does not trust the certificate');
  await expect(wizard.getByRole('alert').filter({ hasText: /^UPSTREAM_REJECTED: .*this community does not trust the certificate/ })).toBeVisible();
  await wizard.getByRole('link', { name: 'See what Registrar knows about this registration and what to do' }).click();
  await expect(page.getByRole('heading', { name: 'Registration operation' })).toBeVisible();
  await expect(page.getByTestId('operation-guidance')).toContainText('The hospital did not register the client.');
  await expect(page.getByTestId('operation-status')).toContainText('failed');
  await context.close();
});

test('an abandoned registration: managers read what to look for, support cannot, ops record the client id the hospital shows', async ({ browser }) => {
  const suffix = Date.now().toString(36);
  const issuerId = await udapIssuer(`Crashed ${suffix}`, '/udap/register');
  const [app] = await query<{ id: string }>('insert into apps (name, software_id) values ($1, $2) returning id', [`Crashed App ${suffix}`, `com.example.crashed-${suffix}`]);
  const request = { client_name: `Crashed App ${suffix}`, software_id: `com.example.crashed-${suffix}`, redirect_uris: ['https://app.example.com/cb'] };
  const [op] = await query<{ id: string }>(
    `insert into registration_operations (idempotency_key, request_hash, status, issuer_id, app_id, environment, request, created_by, created_at, updated_at)
     values ($1, 'e2e', 'in_flight', $2, $3, 'production', $4::jsonb, 'e2e', now() - interval '5 minutes', now() - interval '5 minutes') returning id`,
    [`e2e-${randomUUID()}`, issuerId, app!.id, JSON.stringify(request)],
  );
  const url = `/registrations/operations/${op!.id}`;
  const lookFor = `Registrar cannot tell whether the hospital registered the client; look for a client named “${request.client_name}” with software_id ${request.software_id} at the hospital.`;

  const manager = await browser.newContext({ storageState: storageStateFor('manager') });
  const managerPage = await manager.newPage();
  await managerPage.goto(url);
  await expect(managerPage.getByTestId('operation-guidance')).toContainText(lookFor);
  await expect(managerPage.getByRole('form', { name: 'Record what the hospital shows' })).toHaveCount(0);
  await manager.close();

  const support = await browser.newContext({ storageState: storageStateFor('support') });
  const supportPage = await support.newPage();
  await supportPage.goto(url);
  await expect(supportPage.getByRole('heading', { name: 'Not available for your role' })).toBeVisible();
  await support.close();

  const ops = await browser.newContext({ storageState: storageStateFor('ops') });
  const page = await ops.newPage();
  // Found from the overview, as ops would: its "Needs attention" card links to the operations page.
  await page.goto('/');
  await page.getByRole('link', { name: /registration requests? needs? a person/ }).click();
  await expect(page).toHaveURL(/\/registrations\/operations$/);
  await page.locator(`a[href="${url}"]`).click();
  await expect(page.getByTestId('operation-guidance')).toContainText(lookFor);
  const form = page.getByRole('form', { name: 'Record what the hospital shows' });
  await form.getByRole('textbox', { name: 'Client id the hospital shows' }).fill(`hospital-client-${suffix}`);
  await form.getByRole('button', { name: 'Record the client id' }).click();
  await expect(page.getByTestId('operation-resolution')).toContainText(`the hospital shows client hospital-client-${suffix}`);
  await expect(page.getByTestId('operation-status')).toContainText('needs_recovery');
  const [row] = await query<{ status: string; outcome: string; client_id: string }>(
    'select o.status, r.outcome, r.client_id from registration_operations o join registration_operation_resolutions r on r.operation_id = o.id where o.id = $1',
    [op!.id],
  );
  expect(row).toEqual({ status: 'needs_recovery', outcome: 'registered', client_id: `hospital-client-${suffix}` });
  const audit = await query<{ outcome: string }>("select outcome from audit_log where action = 'registration.operation.resolve' and target_id = $1", [op!.id]);
  expect(audit).toEqual([{ outcome: 'success' }]);

  // The hospital deletes that client; ops close the operation, and it no longer waits for a person.
  const close = page.getByRole('form', { name: 'Close this operation' });
  await close.getByRole('textbox', { name: 'What the hospital did (optional)' }).fill('Deleted by the hospital');
  await close.getByRole('button', { name: 'Close this operation' }).click();
  await expect(page.getByTestId('operation-guidance')).toContainText(`Closed: client hospital-client-${suffix} was dealt with at the hospital.`);
  await expect(page.getByTestId('operation-status')).toContainText('failed');
  await expect(page.getByRole('form', { name: 'Close this operation' })).toHaveCount(0);
  await page.goto('/registrations/operations');
  await expect(page.locator(`a[href="${url}"]`)).toHaveCount(0);
  await ops.close();
});
