import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { registrations } from '@/db/schema';
import { parseTableParams, queryRegistrationsTable } from './table';

let manager: Awaited<ReturnType<typeof insertUser>>;
const tag = randomUUID().slice(0, 8);
const clientIds = [`lit%eral-${tag}`, `under_score-${tag}`, `underXscore-${tag}`, `back\\slash-${tag}`];

beforeAll(async () => {
  manager = await insertUser({ role: 'manager' });
  const { issuerId } = await insertIssuer({ registrationEndpoint: 'https://as.example.com/register' });
  const { appId } = await insertApp({ environments: { production: {} } });
  for (const clientId of clientIds) {
    await getDb()
      .insert(registrations)
      .values({ issuerId, appId, appVersion: 1, environment: 'production', clientId, authMethod: 'none', requestedMetadata: {}, registeredMetadata: { client_id: clientId }, secretExpiryKind: 'none' });
  }
});

afterAll(async () => {
  await closeDb();
});

const search = async (q: string) => (await queryRegistrationsTable(manager.actor, parseTableParams({ q }))).rows.map((r) => r.clientId).sort();

describe('the registrations table’s search', () => {
  it('matches %, _ and \\ as the characters typed, not as LIKE wildcards', async () => {
    expect(await search(`%eral-${tag}`)).toEqual([`lit%eral-${tag}`]);
    expect(await search(`under_score-${tag}`)).toEqual([`under_score-${tag}`]);
    expect(await search(`back\\slash-${tag}`)).toEqual([`back\\slash-${tag}`]);
    // Plain text still finds every row that contains it, case-insensitively.
    expect(await search(`SCORE-${tag}`)).toEqual([`underXscore-${tag}`, `under_score-${tag}`].sort());
  });
});
