/**
 * `npm run sandbox`: the local hospitals for demos, on fixed ports.
 *   --general 4401 --mercy 4402 --epic 4403 --tenants-port 4404 --tenants 500
 *   --secret-ttl <seconds>  (General Hospital's client secret lifetime; default 30 days)
 *   --admin-token <token>   (default: random, printed)
 *   --issue-secret-on-update (General Hospital answers an RFC 7592 update with a new secret)
 * Port 0 picks a free port. Stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startSandbox, type HospitalInfo } from './index';

const USAGE = `usage: npm run sandbox -- [--general 4401] [--mercy 4402] [--epic 4403] [--tenants-port 4404] [--tenants 500] [--secret-ttl SECONDS] [--admin-token TOKEN] [--issue-secret-on-update]`;

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number (0-65535)`);
  return n;
}

function count(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      general: { type: 'string' },
      mercy: { type: 'string' },
      epic: { type: 'string' },
      'tenants-port': { type: 'string' },
      tenants: { type: 'string' },
      'secret-ttl': { type: 'string' },
      'admin-token': { type: 'string' },
      'issue-secret-on-update': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const tenants = count(values.tenants, 500, 'tenants');
  const sandbox = await startSandbox({
    ports: {
      general: port(values.general, 4401, 'general'),
      mercy: port(values.mercy, 4402, 'mercy'),
      epic: port(values.epic, 4403, 'epic'),
      tenants: port(values['tenants-port'], 4404, 'tenants-port'),
    },
    tenants,
    generalSecretTtlSeconds: values['secret-ttl'] === undefined ? undefined : count(values['secret-ttl'], 0, 'secret-ttl'),
    adminToken: values['admin-token'],
    generalIssuesSecretOnUpdate: values['issue-secret-on-update'] ?? false,
    log: (line) => console.error(line),
  });

  const describe = (h: HospitalInfo, notes: string[]) =>
    [
      `${h.name} (${h.key})`,
      `  issuer                 ${h.issuer}`,
      `  FHIR base              ${h.fhirBase}`,
      `  registration endpoint  ${h.registrationEndpoint}`,
      ...notes.map((n) => `  ${n}`),
    ].join('\n');
  const mint = (h: HospitalInfo) =>
    `mint an initial access token: curl -s -X POST ${h.origin}/sandbox/initial-access-tokens -H 'Authorization: Bearer ${sandbox.adminToken}' -H 'Content-Type: application/json' -d '{"expiresInSeconds":3600,"uses":1}'`;
  const lines = [
    'Registrar sandbox hospitals (127.0.0.1, plain http)',
    '',
    describe(sandbox.general, ['open registration; RFC 7592 read/update/delete; client secrets expire']),
    '',
    describe(sandbox.mercy, ['registration needs an initial access token', mint(sandbox.mercy)]),
    '',
    describe(sandbox.epic, ['register is advertised only with an Epic-Client-ID header', mint(sandbox.epic)]),
    '',
    sandbox.tenantsBase
      ? `Tenants: ${tenants} issuers ${sandbox.tenantsBase}/t/0 … ${sandbox.tenantsBase}/t/${tenants - 1} (list: ${sandbox.tenantsBase}/tenants.json)`
      : 'Tenants: none',
    '',
    `admin token: ${sandbox.adminToken}`,
    'ready (Ctrl-C to stop)',
  ];
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    sandbox.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  console.error(USAGE);
  process.exit(1);
});
