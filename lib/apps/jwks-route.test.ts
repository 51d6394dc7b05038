import { afterAll, describe, expect, it } from 'vitest';
import { GET } from '@/app/api/jwks/[appId]/[environment]/route';
import { closeDb } from '@/db/client';
import { insertApp } from '@/db/factories';
import { ensureAppKey } from './keys';

afterAll(async () => {
  await closeDb();
});

/** The route handler as Next.js calls it: the segment already decoded once (next/dist/shared/lib/router/utils/route-matcher). */
const get = (appId: string, decodedEnvironment: string) =>
  GET(new Request(`http://localhost/api/jwks/${appId}/${encodeURIComponent(decodedEnvironment)}`), { params: Promise.resolve({ appId, environment: decodedEnvironment }) });

describe('GET /api/jwks/{appId}/{environment}', () => {
  it('serves the keys of an environment whose name holds % and spaces, and 404 (not 500) for one that does not exist', async () => {
    const { appId } = await insertApp({ environments: {} });
    const environment = 'eu west 100%41';
    const key = await ensureAppKey(appId, environment, 'client_auth', 'ES384');
    const served = await get(appId, environment);
    expect(served.status).toBe(200);
    const body = (await served.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.map((k) => k.kid)).toEqual([key.kid]);
    expect(body.keys[0]).not.toHaveProperty('d');
    // Decoded once more, "100%41" would be "100A": another (empty) environment.
    expect((await get(appId, 'eu west 100A')).status).toBe(404);
    expect((await get(appId, '100%')).status).toBe(404);
  });
});
