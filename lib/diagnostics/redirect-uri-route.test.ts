import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, uniqueSuffix } from '@/db/factories';
import { registrations } from '@/db/schema';
import { call, expectContract, makeToken } from '@/lib/api/testing/client';

/**
 * POST /api/v1/diagnostics/redirect-uri through its route handler (called in-process, as Next.js
 * calls it): `presented` is "the redirect URI the app sends, exactly", in every mode.
 */

const REGISTERED = 'https://app.example.com/cb';
let token: string;
let clientId: string;

beforeAll(async () => {
  ({ token } = await makeToken('support'));
  const { appId } = await insertApp({ environments: { production: {} } });
  const { issuerId } = await insertIssuer({ registrationEndpoint: `https://ehr-${uniqueSuffix()}.hospital.test/register` });
  clientId = `route-${uniqueSuffix()}`;
  await getDb()
    .insert(registrations)
    .values({
      issuerId,
      appId,
      appVersion: 1,
      environment: 'production',
      clientId,
      authMethod: 'none',
      requestedMetadata: { redirect_uris: [REGISTERED] },
      registeredMetadata: { client_id: clientId, redirect_uris: [REGISTERED] },
      secretExpiryKind: 'none',
    });
});

afterAll(async () => {
  await closeDb();
});

const diagnose = async (body: Record<string, unknown>) => expectContract('diagnoseRedirectUri', await call('POST', '/diagnostics/redirect-uri', { token, body }), 200);
type Finding = { code: string; message: string };

describe('POST /diagnostics/redirect-uri compares `presented` exactly as sent', () => {
  it.each([
    ['a trailing space', `${REGISTERED} `, 'The presented URI has a space after it; the registered one does not.'],
    ['a leading space', ` ${REGISTERED}`, 'The presented URI has a space before it; the registered one does not.'],
    ['a trailing newline', `${REGISTERED}\n`, 'The presented URI has a newline after it; the registered one does not.'],
  ])('with a client id, %s is a WHITESPACE no-match, as with `registered`', async (_name, presented, message) => {
    const byClient = await diagnose({ clientId, presented });
    expect(byClient).toMatchObject({ match: false, verdict: 'no-match', presented, candidate: REGISTERED, registeredUris: [REGISTERED] });
    expect((byClient.findings as Finding[]).map((f) => [f.code, f.message])).toEqual([['WHITESPACE', message]]);

    // The same answer as when the registered URIs are given in the body.
    const byList = await diagnose({ presented, registered: [REGISTERED] });
    expect(byList).toMatchObject({ match: false, verdict: 'no-match', presented, candidate: REGISTERED });
    expect(byList.findings).toEqual(byClient.findings);

    // Without the stray character it is the exact match.
    expect(await diagnose({ clientId, presented: REGISTERED })).toMatchObject({ match: true, verdict: 'exact-match', presented: REGISTERED, findings: [] });
  });
});
