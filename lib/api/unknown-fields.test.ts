import { count, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closeDb, getDb } from '@/db/client';
import { apps } from '@/db/schema';
import { call, expectProblem, makeToken } from './testing/client';
import { unknownFields } from './unknown-fields';

afterAll(async () => {
  await closeDb();
});

describe('unknownFields', () => {
  const schema = z.object({
    name: z.string(),
    environments: z.record(z.string(), z.object({ redirectUris: z.array(z.string()).default([]), scope: z.string().optional() })),
    tags: z.array(z.object({ key: z.string() })).optional(),
    resolution: z.discriminatedUnion('outcome', [z.object({ outcome: z.literal('a') }), z.object({ outcome: z.literal('b'), clientId: z.string() })]).optional(),
    note: z.string().trim().optional().transform((v) => v || null),
  });

  it('names misspelt fields at any depth, through records, arrays, unions and transforms', () => {
    expect(unknownFields(schema, { name: 'x', environments: { production: { redirectUris: [] } }, note: 'n' })).toEqual([]);
    expect(
      unknownFields(schema, {
        name: 'x',
        nmae: 'typo',
        environments: { production: { redirect_uris: ['https://a.example/cb'] }, staging: { scope: 'openid' } },
        tags: [{ key: 'k' }, { key: 'k', value: 'v' }],
        resolution: { outcome: 'b', clientId: 'c', client_id: 'c' },
      }),
    ).toEqual(['nmae', 'environments.production.redirect_uris', 'tags.1.value', 'resolution.client_id']);
  });
});

describe('the API refuses fields it does not know instead of dropping them', () => {
  it('POST /apps with a snake_case redirect_uris: 400 naming it, and no app is created', async () => {
    const ops = await makeToken('ops');
    const name = `Misspelt ${Date.now()}`;
    const res = await call('POST', '/apps', {
      token: ops.token,
      body: { name, softwareId: `com.example.misspelt-${Date.now()}`, environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', redirect_uris: ['https://app.example.com/cb'] } } },
    });
    const problem = expectProblem(res, 400, 'INVALID');
    expect(problem.detail).toMatch(/not part of this request: environments\.production\.redirect_uris/);
    expect(problem.errors).toEqual([{ path: 'environments.production.redirect_uris', message: 'Unknown field.' }]);
    const [row] = await getDb().select({ n: count() }).from(apps).where(eq(apps.name, name));
    expect(row?.n).toBe(0);
  });
});
