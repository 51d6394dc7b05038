import { Fragment } from 'react';
import { Badge, Card, PageHeader } from '@/components/ui/card';
import { buildOpenApiDocument, statusTable } from '@/lib/api/openapi';
import { requirePageUser } from '@/lib/auth/page-guard';

type Schema = Record<string, unknown>;
type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: Schema };
type Operation = {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  'x-permission': string | null;
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
};

const METHOD_TONE = { get: 'info', post: 'good', put: 'warn', patch: 'warn', delete: 'bad' } as const;

/** Inline `code` and **bold** from the document's descriptions; everything else as text. */
function Prose({ text }: { text: string }) {
  return (
    <>
      {text.split(/\n{2,}/).map((para, i) => (
        <p key={i} className="mb-2 text-sm text-slate-700">
          {para.split(/(`[^`]+`|\*\*[^*]+\*\*)/g).map((part, j) =>
            part.startsWith('`') ? (
              <code key={j} className="rounded bg-slate-100 px-1">
                {part.slice(1, -1)}
              </code>
            ) : part.startsWith('**') ? (
              <strong key={j}>{part.slice(2, -2)}</strong>
            ) : (
              <Fragment key={j}>{part}</Fragment>
            ),
          )}
        </p>
      ))}
    </>
  );
}

function typeOf(schema: Schema | undefined): string {
  if (!schema) return '';
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(typeOf).join(' | ');
  const t = String(schema.type ?? 'any');
  return schema.format ? `${t} (${String(schema.format)})` : t;
}

function SchemaBlock({ label, schema }: { label: string; schema: Schema }) {
  return (
    <details className="mt-2">
      <summary className="cursor-pointer text-sm text-slate-700">{label}</summary>
      <pre className="mt-1 max-h-96 overflow-auto rounded bg-slate-50 p-3 text-xs">{JSON.stringify(schema, null, 2)}</pre>
    </details>
  );
}

/** The API reference for people, rendered from the same OpenAPI document /api/v1/openapi.json serves. */
export default async function ApiDocsPage() {
  await requirePageUser();
  const doc = buildOpenApiDocument() as { info: { description: string; version: string }; servers: Array<{ url: string }>; paths: Record<string, Record<string, Operation>> };
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const tags = [...new Set(ops.map((o) => o.op.tags[0] ?? 'Other'))];
  const intro = doc.info.description.split('\n\n| code')[0] ?? '';
  return (
    <>
      <PageHeader
        title="API"
        description={`Registrar’s JSON API, version ${doc.info.version}, at ${doc.servers[0]?.url ?? '/api/v1'}. Machine-readable: /api/v1/openapi.json (OpenAPI 3.1).`}
        actions={
          <a className="text-sm font-medium text-slate-900 underline" href="/api/v1/openapi.json">
            openapi.json
          </a>
        }
      />
      <div className="space-y-6">
        <Card title="Using the API">
          <Prose text={intro} />
          <p className="text-sm text-slate-700">
            The command-line client: <code className="rounded bg-slate-100 px-1">npx registrar login --url URL --token TOKEN</code>, then{' '}
            <code className="rounded bg-slate-100 px-1">registrar --help</code>.
          </p>
        </Card>

        <Card title="Error codes">
          <table className="min-w-full text-sm">
            <thead className="text-left text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">Code</th>
                <th className="py-1">HTTP status</th>
                <th className="py-1">Title</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {statusTable().map((row) => (
                <tr key={row.code} id={`problem-${row.code}`}>
                  <td className="py-1">
                    <code>{row.code}</code>
                  </td>
                  <td className="py-1">{row.status}</td>
                  <td className="py-1">{row.title}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="mt-2 text-sm text-slate-600">Request validation errors are 400 INVALID with the failing fields; a well-formed request the domain refuses is 422 INVALID.</p>
        </Card>

        {tags.map((tag) => (
          <Card key={tag} title={tag}>
            <div className="space-y-6">
              {ops
                .filter((o) => (o.op.tags[0] ?? 'Other') === tag)
                .map(({ path, method, op }) => (
                  <section key={`${method} ${path}`} id={op.operationId} aria-label={`${method.toUpperCase()} /api/v1${path}`} className="border-t border-slate-100 pt-4 first:border-0 first:pt-0">
                    <h3 className="flex flex-wrap items-center gap-2 font-mono text-sm">
                      <Badge tone={METHOD_TONE[method as keyof typeof METHOD_TONE] ?? 'neutral'}>{method.toUpperCase()}</Badge>
                      <span>/api/v1{path}</span>
                    </h3>
                    <p className="mt-1 text-sm font-medium">{op.summary}</p>
                    {op.description ? <Prose text={op.description} /> : null}
                    <p className="text-xs text-slate-600">
                      {op.security && op.security.length === 0 ? 'No token needed.' : op['x-permission'] ? <>Needs <code>{op['x-permission']}</code>.</> : 'Any valid token.'}
                    </p>
                    {op.parameters?.length ? (
                      <table className="mt-2 min-w-full text-xs">
                        <thead className="text-left uppercase text-slate-500">
                          <tr>
                            <th className="py-1">Parameter</th>
                            <th className="py-1">In</th>
                            <th className="py-1">Type</th>
                            <th className="py-1">Description</th>
                          </tr>
                        </thead>
                        <tbody className="divide-y divide-slate-100">
                          {op.parameters.map((p) => (
                            <tr key={`${p.in}-${p.name}`}>
                              <td className="py-1 font-mono">
                                {p.name}
                                {p.required ? ' *' : ''}
                              </td>
                              <td className="py-1">{p.in}</td>
                              <td className="py-1">{typeOf(p.schema)}</td>
                              <td className="py-1">{p.description ?? ''}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    ) : null}
                    {op.requestBody ? <SchemaBlock label="Request body (JSON Schema)" schema={Object.values(op.requestBody.content)[0]!.schema} /> : null}
                    <ul className="mt-2 space-y-1 text-xs">
                      {Object.entries(op.responses).map(([status, r]) => (
                        <li key={status}>
                          <span className="font-mono font-medium">{status}</span> {r.description}
                          {r.content && status.startsWith('2') ? <SchemaBlock label="Response body (JSON Schema)" schema={Object.values(r.content)[0]!.schema} /> : null}
                        </li>
                      ))}
                    </ul>
                  </section>
                ))}
            </div>
          </Card>
        ))}
      </div>
    </>
  );
}
