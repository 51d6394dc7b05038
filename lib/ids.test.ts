import { afterAll, describe, expect, it } from 'vitest';
import { closeDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import { getAppOrThrow } from '@/lib/apps/queries';
import { getHealthSystemOrThrow } from '@/lib/health-systems/queries';
import { getIssuerOrThrow } from '@/lib/issuers/queries';
import { getRegistrationOrThrow } from '@/lib/registrations/queries';
import { getOperationOrThrow } from '@/lib/registrations/reconcile';
import { isUuid } from './ids';

afterAll(async () => {
  await closeDb();
});

describe('ids from a URL', () => {
  it('isUuid accepts UUIDs only', () => {
    expect(isUuid('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(true);
    expect(isUuid('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(true);
    for (const value of ['not-a-uuid', '0f8fad5b-d9cb-469f-a165-70867728950', '0f8fad5b-d9cb-469f-a165-70867728950e ', '------------------------------------', '', null, 42]) expect(isUuid(value), String(value)).toBe(false);
  });

  // A malformed id reached PostgreSQL (uuid = 'x' is an error, 22P02) and the page answered 500.
  it.each([
    ['registration', getRegistrationOrThrow],
    ['health system', getHealthSystemOrThrow],
    ['issuer', getIssuerOrThrow],
    ['app', getAppOrThrow],
    ['registration operation', getOperationOrThrow],
  ] as const)('a malformed %s id is "not found", not a database error', async (_name, get) => {
    const { actor } = await insertUser({ role: 'admin' });
    for (const id of ['not-a-uuid', '------------------------------------', "1' or '1'='1"]) await expect(get(actor, id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
