import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, EXPORT_CONNECTIONS, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { auditLog, registrations } from '@/db/schema';
import { exportAuditCsv } from '@/lib/audit/export';
import { isCrossSiteRequest } from '@/lib/http/cross-site';
import { exportRegistrationsCsv } from './export';
import { parseTableParams } from './table';

beforeAll(async () => {
  // A row to stream: an export of nothing ends (and gives its connection back) at once.
  const { issuerId } = await insertIssuer({ registrationEndpoint: 'https://as.example.com/register' });
  const { appId } = await insertApp({ environments: { production: {} } });
  await getDb()
    .insert(registrations)
    .values({ issuerId, appId, appVersion: 1, environment: 'production', clientId: `export-${randomUUID()}`, authMethod: 'none', requestedMetadata: {}, registeredMetadata: {}, secretExpiryKind: 'none' });
});

afterAll(async () => {
  await closeDb();
});

const params = parseTableParams({});
const auditsOf = (actorId: string, action: string) =>
  getDb().select({ outcome: auditLog.outcome }).from(auditLog).where(and(eq(auditLog.actorId, actorId), eq(auditLog.action, action)));

describe('CSV exports', () => {
  it('a role without export is refused, and the refusal is audited (a probe leaves a trace)', async () => {
    const support = await insertUser({ role: 'support' });
    await expect(exportRegistrationsCsv(support.actor, params)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(exportAuditCsv(support.actor, { page: 1, pageSize: 50 } as never)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await auditsOf(support.id, 'registration.export')).toEqual([{ outcome: 'denied' }]);
    expect(await auditsOf(support.id, 'audit.export')).toEqual([{ outcome: 'denied' }]);
  });

  it('stream on connections of their own: while every one is held by a download, the next is refused as busy, and audited as nothing', async () => {
    const manager = await insertUser({ role: 'manager' });
    const held = await Promise.all(Array.from({ length: EXPORT_CONNECTIONS }, () => exportRegistrationsCsv(manager.actor, params)));
    // The pages and jobs still have their pool.
    expect((await getDb().execute('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await expect(exportRegistrationsCsv(manager.actor, params)).rejects.toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/exports are being downloaded already/) });
    expect(await auditsOf(manager.id, 'registration.export')).toHaveLength(EXPORT_CONNECTIONS);
    // A download that ends gives its connection back: the next export streams.
    await held[0]!.cancel();
    const next = await exportRegistrationsCsv(manager.actor, params);
    const reader = next.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^health_system,issuer,/);
    await reader.cancel();
    for (const stream of held.slice(1)) await stream.cancel();
  }, 20_000);

  it('knows a request another site made from one the person made here', () => {
    const headers = (site?: string) => new Headers(site ? { 'sec-fetch-site': site } : {});
    expect(isCrossSiteRequest(headers('cross-site'))).toBe(true);
    expect(isCrossSiteRequest(headers('same-site'))).toBe(true);
    for (const site of ['same-origin', 'none', undefined]) expect(isCrossSiteRequest(headers(site))).toBe(false);
  });
});
