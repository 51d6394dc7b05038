import { afterAll, describe, expect, it } from 'vitest';
import { closeDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import type { Actor } from '@/lib/auth/actor';
import { getOverview } from './queries';

afterAll(async () => {
  await closeDb();
});

describe('getOverview', () => {
  it('shows recent activity to a role that reads the audit log, and not to an API token whose permissions leave it out', async () => {
    const manager = await insertUser({ role: 'manager' });
    expect((await getOverview(manager.actor, { stackBy: 'status' })).recent).not.toBeNull();

    const narrowed: Actor = { type: 'api_token', id: 'token-overview-test', label: 'overview test', role: 'manager', permissions: ['registrations:read'] };
    expect((await getOverview(narrowed, { stackBy: 'status' })).recent).toBeNull();

    const support = await insertUser({ role: 'support' });
    expect((await getOverview(support.actor, { stackBy: 'status' })).recent).toBeNull();
  });
});
