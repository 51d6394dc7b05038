// registrar <command>: see USAGE. Exit codes: 0 success, 1 error, 2 `apply --detailed-exitcode`
// with changes to make, 3 `diagnose redirect-uri` without a match, 4 `apply --detailed-exitcode`
// when drift could not be checked for some registration.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { runApply } from './apply.mjs';
import { ApiError, createClient, describeError } from './client.mjs';
import { configPath, readConfig, writeConfig } from './config.mjs';
import { printRecord, printRows } from './format.mjs';

export const USAGE = `Usage: registrar <command> [options]

  login --url URL --token TOKEN          Check the token against Registrar and save both (mode 0600)
  issuers list [--health-system ID] [--environment ENV] [--format table|json|csv]
  issuers add --health-system ID|NAME --url URL --environment ENV [--epic-client-id ID] [--format ...]
  issuers refresh ID
  registrations list [--q TEXT] [--status S] [--health-system ID] [--issuer ID] [--app ID]
                     [--environment ENV] [--expiring-within-days N] [--has-findings true|false]
                     [--sort COL] [--dir asc|desc] [--page N] [--page-size N] [--all] [--format ...]
  registrations show ID [--format table|json|csv]
  registrations refresh ID [--format table|json]
  diagnose redirect-uri --presented URI [--registered URI ...] [--client-id ID] [--issuer URL]
  diagnose redirect-uri --authorization-url URL [--issuer URL]
  apply FILE [--yes] [--prune] [--detailed-exitcode] [--format text|json]

The URL and token come from \`registrar login\` (${configPath()}),
or from REGISTRAR_URL and REGISTRAR_TOKEN. The saved token is only sent to the saved URL's origin:
a REGISTRAR_URL elsewhere needs REGISTRAR_TOKEN too.

Exit codes: 0 done (or nothing to do), 1 error (for apply, also: the file asks for a change it
cannot make, e.g. new overrides for a client without RFC 7592 management; wins over 2 and 4),
2 apply --detailed-exitcode: the plan has changes,
3 diagnose: the redirect URI does not match, 4 apply --detailed-exitcode: drift could not be
checked for some registration (the hospital or the sync was unavailable; wins over 2).`;

class UsageError extends Error {}

const FORMATS = ['table', 'json', 'csv'];

function parse(args, options) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error.message);
  }
}

function format(values, allowed = FORMATS) {
  const f = values.format ?? 'table';
  if (!allowed.includes(f)) throw new UsageError(`--format must be one of ${allowed.join(', ')}`);
  return f;
}

async function connect() {
  const config = await readConfig();
  if (config.problem) throw new Error(config.problem);
  if (!config.url || !config.token) throw new UsageError('Not logged in: run `registrar login --url URL --token TOKEN` (or set REGISTRAR_URL and REGISTRAR_TOKEN).');
  return createClient(config);
}

const qs = (params) => {
  const s = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  return s ? `?${s}` : '';
};

const ISSUER_COLUMNS = [
  { label: 'id', get: (r) => r.id },
  { label: 'health system', get: (r) => r.healthSystemName },
  { label: 'environment', get: (r) => r.environment },
  { label: 'issuer', get: (r) => r.issuer ?? r.inputUrl },
  { label: 'dynamic registration', get: (r) => (r.canRegister ? 'yes' : 'no') },
];

const REGISTRATION_COLUMNS = [
  { label: 'id', get: (r) => r.id },
  { label: 'health system', get: (r) => r.healthSystemName },
  { label: 'issuer', get: (r) => r.issuerUrl },
  { label: 'environment', get: (r) => r.environment },
  { label: 'app', get: (r) => r.appName },
  { label: 'client id', get: (r) => r.clientId },
  { label: 'auth', get: (r) => r.authMethod },
  { label: 'status', get: (r) => r.status },
  { label: 'secret expires', get: (r) => r.secretExpiresAt ?? r.expiryState },
  { label: 'expiry', get: (r) => r.expiryState },
];

async function login(args, out) {
  const { values } = parse(args, { url: { type: 'string' }, token: { type: 'string' } });
  if (!values.url || !values.token) throw new UsageError('login needs --url and --token');
  let url;
  try {
    url = new URL(values.url).toString().replace(/\/+$/, '');
  } catch {
    throw new UsageError(`--url is not a URL: ${values.url}`);
  }
  const me = await createClient({ url, token: values.token }).get('/me');
  const file = await writeConfig({ url, token: values.token });
  out.write(`Logged in to ${url} as API token “${me.name}” (${me.role}: ${me.permissions.join(', ')}).\nSaved to ${file}.\n`);
  return 0;
}

async function issuers(args, out) {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const { values } = parse(rest, { 'health-system': { type: 'string' }, environment: { type: 'string' }, format: { type: 'string' } });
    const f = format(values);
    const api = await connect();
    const items = await api.all(`/issuers${qs({ healthSystemId: values['health-system'], environment: values.environment })}`);
    printRows(f, items, ISSUER_COLUMNS, items, out);
    return 0;
  }
  if (sub === 'add') {
    const { values } = parse(rest, { 'health-system': { type: 'string' }, url: { type: 'string' }, environment: { type: 'string' }, 'epic-client-id': { type: 'string' }, format: { type: 'string' } });
    const f = format(values, ['table', 'json']);
    if (!values['health-system'] || !values.url || !values.environment) throw new UsageError('issuers add needs --health-system, --url and --environment');
    const api = await connect();
    const healthSystemId = await resolveHealthSystem(api, values['health-system']);
    const issuer = await api.post('/issuers', { healthSystemId, url: values.url, environment: values.environment, ...(values['epic-client-id'] ? { epicClientId: values['epic-client-id'] } : {}) });
    printRecord(
      f,
      [
        ['id', issuer.id],
        ['issuer', issuer.issuer],
        ['fhir base', issuer.fhirBaseUrl],
        ...Object.entries(issuer.endpoints).map(([name, e]) => [`${name} endpoint`, `${e.url} (${e.source})`]),
        ['capabilities', issuer.capabilities.join(' ')],
        ['auth methods', issuer.tokenEndpointAuthMethodsSupported.join(' ')],
        ...issuer.warnings.map((w) => [`warning ${w.code}`, w.message]),
      ],
      issuer,
      out,
    );
    return 0;
  }
  if (sub === 'refresh') {
    const { values, positionals } = parse(rest, { format: { type: 'string' } });
    const f = format(values, ['table', 'json']);
    if (positionals.length !== 1) throw new UsageError('issuers refresh needs one issuer id');
    const api = await connect();
    const result = await api.post(`/issuers/${encodeURIComponent(positionals[0])}/refresh`, undefined);
    printRecord(f, [['outcome', result.outcome], ['changes', result.changes], ['needs attention', result.needsAttention], ...(result.error ? [['error', `${result.error.code}: ${result.error.message}`]] : [])], result, out);
    return result.outcome === 'ok' ? 0 : 1;
  }
  throw new UsageError('issuers: use list, add or refresh');
}

async function resolveHealthSystem(api, ref) {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref)) return ref;
  const all = await api.all('/health-systems');
  const found = all.filter((h) => h.name.toLowerCase() === ref.toLowerCase());
  if (found.length !== 1) throw new UsageError(`No health system named “${ref}”${found.length > 1 ? ' (several match)' : ''}; give its id.`);
  return found[0].id;
}

async function registrations(args, out) {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const { values } = parse(rest, {
      q: { type: 'string' },
      status: { type: 'string' },
      'health-system': { type: 'string' },
      issuer: { type: 'string' },
      app: { type: 'string' },
      environment: { type: 'string' },
      'expiring-within-days': { type: 'string' },
      'has-findings': { type: 'string' },
      sort: { type: 'string' },
      dir: { type: 'string' },
      page: { type: 'string' },
      'page-size': { type: 'string' },
      all: { type: 'boolean' },
      format: { type: 'string' },
    });
    const f = format(values);
    const api = await connect();
    const filters = {
      q: values.q,
      status: values.status,
      healthSystemId: values['health-system'],
      issuerId: values.issuer,
      appId: values.app,
      environment: values.environment,
      expiringWithinDays: values['expiring-within-days'],
      hasFindings: values['has-findings'],
      sort: values.sort,
      dir: values.dir,
    };
    if (values.all) {
      const items = await api.all(`/registrations${qs(filters)}`);
      printRows(f, items, REGISTRATION_COLUMNS, items, out);
    } else {
      const data = await api.get(`/registrations${qs({ ...filters, page: values.page, pageSize: values['page-size'] })}`);
      printRows(f, data.items, REGISTRATION_COLUMNS, data, out);
      if (f === 'table' && data.total > data.items.length) out.write(`Page ${data.page} of ${Math.ceil(data.total / data.pageSize)} (${data.total} registrations; --all for every one).\n`);
    }
    return 0;
  }
  if (sub === 'show') {
    const { values, positionals } = parse(rest, { format: { type: 'string' } });
    const f = format(values);
    if (positionals.length !== 1) throw new UsageError('registrations show needs one registration id');
    const api = await connect();
    const r = await api.get(`/registrations/${encodeURIComponent(positionals[0])}`);
    printRecord(
      f,
      [
        ['id', r.id],
        ['client id', r.clientId],
        ['status', r.status],
        ['health system', r.healthSystemName],
        ['issuer', r.issuerUrl],
        ['app', `${r.appName} (v${r.appVersion})`],
        ['environment', r.environment],
        ['auth method', r.authMethod],
        ['managed (RFC 7592)', r.managed ? 'yes' : 'no'],
        ['secret expires', r.secretExpiresAt ?? r.expiryState],
        ['expiry state', r.expiryState],
        ['redirect uris', (r.metadata.registered.redirect_uris ?? []).join(' ')],
        ['scope requested', r.metadata.requested.scope ?? ''],
        ['scope registered', r.metadata.registered.scope ?? ''],
        ['scopes lost', r.scopeDiff.lost.join(' ')],
        ['scopes gained', r.scopeDiff.gained.join(' ')],
        ['overrides', r.overrides ? JSON.stringify(r.overrides) : ''],
        ...r.redirectUriFindings.map((x) => [`redirect ${x.code}`, `${x.uri}: ${x.message}`]),
        ...r.warnings.map((w) => [`warning ${w.code}`, w.message]),
      ],
      r,
      out,
    );
    return 0;
  }
  if (sub === 'refresh') {
    const { values, positionals } = parse(rest, { format: { type: 'string' } });
    const f = format(values, ['table', 'json']);
    if (positionals.length !== 1) throw new UsageError('registrations refresh needs one registration id');
    const api = await connect();
    const r = await api.post(`/registrations/${encodeURIComponent(positionals[0])}/refresh`, undefined);
    if (f === 'json') out.write(JSON.stringify(r, null, 2) + '\n');
    else {
      out.write(`Checked at ${r.lastCheckedAt}: ${r.hasDrift ? 'the server’s record differs from Registrar’s' : 'the server’s record matches Registrar’s'}.\n`);
      const differing = r.drift.filter((d) => d.differs);
      if (differing.length) printRows('table', differing, [
        { label: 'field', get: (d) => d.field },
        { label: 'registrar', get: (d) => d.registrar ?? '(absent)' },
        { label: 'server', get: (d) => d.server ?? '(absent)' },
      ], differing, out);
      if (r.rotated.length) out.write(`New credentials stored: ${r.rotated.join(', ')}.\n`);
      for (const w of r.warnings) out.write(`warning ${w.code}: ${w.message}\n`);
    }
    return 0;
  }
  throw new UsageError('registrations: use list, show or refresh');
}

async function diagnose(args, out) {
  const [sub, ...rest] = args;
  if (sub !== 'redirect-uri') throw new UsageError('diagnose: use redirect-uri');
  const { values } = parse(rest, {
    presented: { type: 'string' },
    registered: { type: 'string', multiple: true },
    'client-id': { type: 'string' },
    issuer: { type: 'string' },
    'authorization-url': { type: 'string' },
    format: { type: 'string' },
  });
  const f = format(values, ['table', 'json']);
  const body = {};
  if (values['authorization-url'] !== undefined) body.authorizationUrl = values['authorization-url'];
  if (values.presented !== undefined) body.presented = values.presented;
  if (values.registered !== undefined) body.registered = values.registered;
  if (values['client-id'] !== undefined) body.clientId = values['client-id'];
  if (values.issuer !== undefined) body.issuer = values.issuer;
  // A presented URI alone has nothing to be compared with: not a "no match" but a missing argument.
  if (body.presented !== undefined && body.registered === undefined && body.clientId === undefined && body.authorizationUrl === undefined) {
    throw new UsageError('diagnose redirect-uri --presented needs what to compare it with: --registered URI (repeatable), or --client-id ID to use that client’s registrations');
  }
  const api = await connect();
  const d = await api.post('/diagnostics/redirect-uri', body);
  if (f === 'json') out.write(JSON.stringify(d, null, 2) + '\n');
  else {
    out.write(`${d.match ? 'MATCH' : 'NO MATCH'} (${d.verdict})\n`);
    out.write(`  presented:  ${JSON.stringify(d.presented)}\n  closest:    ${d.candidate === null ? '(none)' : JSON.stringify(d.candidate)}\n`);
    for (const x of d.findings) out.write(`  ${x.severity.padEnd(7)} ${x.code}: ${x.message}\n`);
  }
  return d.match ? 0 : 3;
}

export async function main(argv, io = { out: process.stdout, err: process.stderr }) {
  const [command, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out.write(USAGE + '\n');
      return command ? 0 : 1;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out.write(USAGE + '\n');
      return 0;
    }
    switch (command) {
      case 'login':
        return await login(rest, io.out);
      case 'issuers':
        return await issuers(rest, io.out);
      case 'registrations':
        return await registrations(rest, io.out);
      case 'diagnose':
        return await diagnose(rest, io.out);
      case 'apply': {
        const { values, positionals } = parse(rest, { yes: { type: 'boolean' }, prune: { type: 'boolean' }, 'detailed-exitcode': { type: 'boolean' }, format: { type: 'string' } });
        if (positionals.length !== 1) throw new UsageError('apply needs one FILE (YAML or JSON)');
        const f = values.format ?? 'text';
        if (!['text', 'json'].includes(f)) throw new UsageError('--format must be text or json');
        return await runApply(await connect(), positionals[0], { yes: Boolean(values.yes), prune: Boolean(values.prune), detailedExitcode: Boolean(values['detailed-exitcode']), format: f, out: io.out, err: io.err, newKey: randomUUID });
      }
      default:
        throw new UsageError(`Unknown command: ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err.write(`${error.message}\n\n${USAGE}\n`);
      return 1;
    }
    io.err.write(describeError(error) + '\n');
    if (!(error instanceof ApiError) && process.env.REGISTRAR_DEBUG) io.err.write(String(error?.stack) + '\n');
    return 1;
  }
}
