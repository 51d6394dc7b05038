import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb } from '@/db/client';
import { appProfileSchema } from '@/lib/apps/schemas';
import { healthSystemInputSchema } from '@/lib/health-systems/schemas';
import { addIssuerSchema } from '@/lib/issuers/schemas';
import { metadataChangesSchema } from '@/lib/registrations/manage/schemas';
import type { OperationSpec } from './operation';
import { MISMATCH_CODES } from '@/lib/diagnostics/redirect-findings';
import { operations } from './operations';
import { call } from './testing/client';
import { findRouteFiles, HTTP_METHODS, loadRoute } from './testing/routes';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string; required?: boolean }>; responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown> };
};

afterAll(async () => {
  await closeDb();
});

async function fetchDoc(): Promise<Doc> {
  const res = await call('GET', '/openapi.json');
  expect(res.status).toBe(200);
  expect(res.contentType).toMatch(/^application\/json/);
  return res.body as Doc;
}

describe('the OpenAPI document', () => {
  it('is served without a token and is a valid OpenAPI 3.1 document', async () => {
    const doc = await fetchDoc();
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every method of every route file under app/api/v1, and each file serves the operation the document says', async () => {
    const doc = await fetchDoc();
    const files = findRouteFiles();
    expect(files.length).toBeGreaterThanOrEqual(14);
    const served = new Set<string>();
    for (const route of files) {
      const mod = (await loadRoute(route.file)) as Record<string, unknown>;
      const methods = HTTP_METHODS.filter((m) => typeof mod[m] === 'function');
      expect(methods.length, route.file).toBeGreaterThan(0);
      // The catch-all only answers problem+json 404 for paths that are not operations.
      if (route.segments.some((s) => s.kind === 'catchAll')) continue;
      for (const method of methods) {
        const operation = (mod[method] as { operation?: OperationSpec }).operation;
        expect(operation, `${method} ${route.template} is built with apiRoute`).toBeDefined();
        expect(operation!.method).toBe(method);
        expect(operation!.path, route.file).toBe(route.template);
        const documented = doc.paths[route.template]?.[method.toLowerCase()];
        expect(documented, `${method} ${route.template} is in the document`).toBeDefined();
        expect(documented!.operationId).toBe(operation!.operationId);
        served.add(`${method} ${route.template}`);
      }
    }
    // …and nothing is documented that no file serves.
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual([...served].sort());
  });

  it('declares each path parameter, unique operation ids, and the error responses every operation can give', async () => {
    const doc = await fetchDoc();
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort(), `${method} ${path}`).toEqual(names.sort());
        for (const p of pathParams) expect(p.required).toBe(true);
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => s.startsWith('2')), `${method} ${path}`).toBe(true);
        expect(statuses).toContain('500');
        if (op.operationId !== 'getOpenApi') {
          expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
        } else {
          expect(op.security).toEqual([]);
        }
        const spec = (operations as Record<string, OperationSpec>)[op.operationId]!;
        if (spec.permission) expect(statuses).toContain('403');
        if (spec.body || spec.query || spec.params) expect(statuses).toContain('400');
      }
    }
  });

  it('is generated from the very schemas that validate requests', async () => {
    // Identity: the operations validate with the domain's own schemas…
    expect(operations.createHealthSystem.body).toBe(healthSystemInputSchema);
    expect(operations.addIssuer.body).toBe(addIssuerSchema);
    expect(operations.createApp.body).toBe(appProfileSchema);
    expect(operations.updateRegistration.body).toBe(metadataChangesSchema);
    // …and the document shows them.
    const doc = await fetchDoc();
    const body = (method: string, path: string) => doc.paths[path]![method]!.requestBody!.content['application/json']!.schema as { required?: string[]; properties: Record<string, { maxLength?: number; enum?: string[] }> };
    expect(body('post', '/health-systems').required).toEqual(['name']);
    expect(body('post', '/health-systems').properties.name!.maxLength).toBe(200);
    expect(body('post', '/issuers').required).toEqual(expect.arrayContaining(['healthSystemId', 'url', 'environment']));
    expect(body('post', '/registrations').properties).not.toHaveProperty('idempotencyKey');
    expect(body('post', '/registrations').required).toEqual(['issuerId', 'appId', 'environment']);
    const idem = doc.paths['/registrations']!.post!.parameters!.find((p) => p.name === 'Idempotency-Key');
    expect(idem).toMatchObject({ in: 'header', required: true });
    const list = doc.paths['/registrations']!.get!.parameters!.map((p) => p.name);
    expect(list).toEqual(expect.arrayContaining(['q', 'healthSystemId', 'issuerId', 'appId', 'environment', 'status', 'expiringWithinDays', 'hasFindings', 'sort', 'dir', 'page', 'pageSize']));
    expect(doc.components.schemas).toHaveProperty('Problem');
  });
});

describe('the redirect URI diagnosis as documented', () => {
  it('lists every finding code the comparison can give', () => {
    const description = JSON.stringify(operations.diagnoseRedirectUri);
    expect(MISMATCH_CODES.filter((code) => !description.includes(code))).toEqual([]);
  });
});
