// `registrar apply FILE`: a declared inventory (health systems, issuers, app profiles and which app
// is registered at which issuer in which environment) against what Registrar holds. Prints a plan
// like a diff; with --yes, carries it out through the API. Re-running after a successful apply
// plans nothing.
//
// Ownership: the file owns the apps it declares. A registration of a declared app that the file
// does not list is reported (deleted only with --prune); registrations of other apps are ignored.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ApiError, describeError } from './client.mjs';

export class InventoryError extends Error {}

// ---------------------------------------------------------------------------------------------
// The file

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks the inventory (YAML or JSON). Nothing is resolved from the environment yet. */
export async function loadInventory(file) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InventoryError(`Cannot read ${file}: ${error.message}`);
  }
  let doc;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new InventoryError(`${file} is not valid YAML or JSON: ${error.message}`);
  }
  const problems = [];
  const need = (cond, where, message) => {
    if (!cond) problems.push(`${where}: ${message}`);
    return cond;
  };
  if (!need(isObject(doc), '(file)', 'expected a mapping with healthSystems, apps and registrations')) throw new InventoryError(problems.join('\n'));
  const known = new Set(['version', 'healthSystems', 'apps', 'registrations']);
  for (const k of Object.keys(doc)) need(known.has(k), k, 'unknown top-level key (use healthSystems, apps, registrations)');

  const healthSystems = doc.healthSystems ?? [];
  const apps = doc.apps ?? [];
  const registrations = doc.registrations ?? [];
  need(Array.isArray(healthSystems), 'healthSystems', 'expected a list');
  need(Array.isArray(apps), 'apps', 'expected a list');
  need(Array.isArray(registrations), 'registrations', 'expected a list');

  const issuerUrls = new Map();
  const hsNames = new Set();
  (Array.isArray(healthSystems) ? healthSystems : []).forEach((hs, i) => {
    const where = `healthSystems[${i}]`;
    if (!need(isObject(hs), where, 'expected a mapping')) return;
    if (need(typeof hs.name === 'string' && hs.name.trim() !== '', `${where}.name`, 'required')) {
      need(!hsNames.has(hs.name.trim().toLowerCase()), `${where}.name`, `“${hs.name}” is declared twice`);
      hsNames.add(hs.name.trim().toLowerCase());
    }
    need(hs.issuers === undefined || Array.isArray(hs.issuers), `${where}.issuers`, 'expected a list');
    (Array.isArray(hs.issuers) ? hs.issuers : []).forEach((iss, j) => {
      const w = `${where}.issuers[${j}]`;
      if (!need(isObject(iss), w, 'expected a mapping with url and environment')) return;
      need(typeof iss.url === 'string' && iss.url.trim() !== '', `${w}.url`, 'required');
      need(typeof iss.environment === 'string' && iss.environment.trim() !== '', `${w}.environment`, 'required');
      need(iss.epicClientId === undefined || typeof iss.epicClientId === 'string', `${w}.epicClientId`, 'expected a string');
      if (typeof iss.url === 'string') {
        need(!issuerUrls.has(iss.url.trim()), `${w}.url`, `${iss.url} is declared twice`);
        issuerUrls.set(iss.url.trim(), { healthSystem: hs.name, ...iss });
      }
    });
  });

  const appRefs = new Map();
  (Array.isArray(apps) ? apps : []).forEach((app, i) => {
    const where = `apps[${i}]`;
    if (!need(isObject(app), where, 'expected an app profile (name, softwareId, environments, …)')) return;
    need(typeof app.softwareId === 'string' && app.softwareId.trim() !== '', `${where}.softwareId`, 'required (it identifies the app)');
    need(typeof app.name === 'string' && app.name.trim() !== '', `${where}.name`, 'required');
    need(isObject(app.environments), `${where}.environments`, 'required (a mapping of environment name → profile)');
    for (const ref of [app.softwareId, app.name]) {
      if (typeof ref !== 'string') continue;
      need(!appRefs.has(ref.trim()) || appRefs.get(ref.trim()) === app, `${where}`, `“${ref}” names two apps`);
      appRefs.set(ref.trim(), app);
    }
  });

  const seen = new Set();
  (Array.isArray(registrations) ? registrations : []).forEach((reg, i) => {
    const where = `registrations[${i}]`;
    if (!need(isObject(reg), where, 'expected a mapping with app, issuer and environment')) return;
    const app = typeof reg.app === 'string' ? appRefs.get(reg.app.trim()) : undefined;
    need(app !== undefined, `${where}.app`, `names no app declared under apps (softwareId or name): ${JSON.stringify(reg.app)}`);
    need(typeof reg.issuer === 'string' && issuerUrls.has(reg.issuer.trim()), `${where}.issuer`, `names no issuer url declared under healthSystems: ${JSON.stringify(reg.issuer)}`);
    need(typeof reg.environment === 'string' && reg.environment.trim() !== '', `${where}.environment`, 'required (the app profile’s environment)');
    if (app && typeof reg.environment === 'string' && isObject(app.environments)) {
      need(Object.hasOwn(app.environments, reg.environment), `${where}.environment`, `the app has no “${reg.environment}” environment`);
    }
    need(reg.initialAccessToken === undefined || typeof reg.initialAccessToken === 'string', `${where}.initialAccessToken`, 'expected a string, e.g. ${MERCY_IAT}');
    need(reg.initialAccessTokenEnv === undefined || typeof reg.initialAccessTokenEnv === 'string', `${where}.initialAccessTokenEnv`, 'expected an environment variable name');
    if (reg.overrides !== undefined && reg.overrides !== null) {
      if (need(isObject(reg.overrides), `${where}.overrides`, `expected a mapping of ${OVERRIDE_KEYS.join(', ')}`)) {
        for (const [k, v] of Object.entries(reg.overrides)) {
          const w = `${where}.overrides.${k}`;
          if (!need(OVERRIDE_KEYS.includes(k), w, `unknown key (use ${OVERRIDE_KEYS.join(', ')})`)) continue;
          if (LIST_OVERRIDES.includes(k)) need(typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')), w, 'expected a list of strings');
          else need(typeof v === 'string', w, 'expected a string');
        }
      }
    }
    const k = `${app?.softwareId}|${reg.issuer}|${reg.environment}`;
    need(!seen.has(k), where, 'the same app, issuer and environment are listed twice');
    seen.add(k);
  });
  if (problems.length) throw new InventoryError(`${file} has problems:\n  ${problems.join('\n  ')}`);
  return { healthSystems, apps, registrations, issuerUrls, appRefs };
}

/** The initial access token of a registration to create: `${VAR}` or initialAccessTokenEnv, read only when needed. */
export function initialAccessTokenOf(reg, env = process.env) {
  const fromEnv = (name, where) => {
    const value = env[name];
    if (value === undefined || value === '') throw new InventoryError(`${where} refers to the environment variable ${name}, which is not set.`);
    return value;
  };
  if (reg.initialAccessTokenEnv) return fromEnv(reg.initialAccessTokenEnv, 'initialAccessTokenEnv');
  if (reg.initialAccessToken === undefined) return undefined;
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(reg.initialAccessToken.trim());
  return m ? fromEnv(m[1], 'initialAccessToken') : reg.initialAccessToken;
}

// ---------------------------------------------------------------------------------------------
// App profiles as Registrar stores them (mirrors the app profile schema's defaults), to compare

const lines = (v) => (typeof v === 'string' ? v.split('\n') : Array.isArray(v) ? v : []).map((s) => String(s).replace(/\r$/, '')).filter((s) => s.trim() !== '');
const orNull = (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

export function normalizeProfile(p) {
  const envs = {};
  for (const [name, e] of Object.entries(p.environments ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const grantTypes = lines(e.grantTypes).map((s) => s.trim());
    const responseTypes = lines(e.responseTypes).map((s) => s.trim());
    envs[name.trim()] = {
      redirectUris: lines(e.redirectUris),
      grantTypes: grantTypes.length ? grantTypes : ['authorization_code'],
      responseTypes: responseTypes.length ? responseTypes : ['code'],
      tokenEndpointAuthMethod: e.tokenEndpointAuthMethod ?? null,
      scope: String(e.scope ?? '').trim().split(/\s+/).filter(Boolean).join(' '),
      keyAlgorithm: e.keyAlgorithm ?? 'ES384',
      applicationType: e.applicationType ?? null,
      epicClientId: orNull(e.epicClientId),
    };
  }
  return {
    name: String(p.name ?? '').trim(),
    softwareId: String(p.softwareId ?? '').trim(),
    softwareVersion: orNull(p.softwareVersion),
    clientUri: orNull(p.clientUri),
    logoUri: orNull(p.logoUri),
    tosUri: orNull(p.tosUri),
    policyUri: orNull(p.policyUri),
    contacts: lines(p.contacts),
    environments: envs,
    softwareStatement: { enabled: Boolean(p.softwareStatement?.enabled) },
  };
}

const canonical = (v) => JSON.stringify(v, (_k, x) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

// ---------------------------------------------------------------------------------------------
// A registration's overrides: the onboarding form's changes to the app profile for that one
// registration (POST /registrations `overrides`), which Registrar keeps and builds every later
// update and re-registration from.

const OVERRIDE_KEYS = ['clientName', 'redirectUris', 'grantTypes', 'responseTypes', 'tokenEndpointAuthMethod', 'scope', 'keyAlgorithm'];
const LIST_OVERRIDES = ['redirectUris', 'grantTypes', 'responseTypes'];

/**
 * Overrides as Registrar stores them (its schema: a list may be given as lines; blank lines go),
 * to compare by meaning: absent and empty are the same (none), key order does not matter, a scope
 * is its space-separated tokens. Lists keep their order: it is what is sent.
 */
export function normalizeOverrides(o) {
  const out = {};
  if (!isObject(o)) return out;
  for (const key of OVERRIDE_KEYS) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    if (LIST_OVERRIDES.includes(key)) out[key] = lines(v);
    else if (key === 'scope') out[key] = String(v).trim().split(/\s+/).filter(Boolean).join(' ');
    else out[key] = String(v).trim();
  }
  return out;
}

const sameOverrides = (a, b) => canonical(normalizeOverrides(a)) === canonical(normalizeOverrides(b));
/** For the plan: none is shown as absent. */
const overridesShown = (o) => (Object.keys(o).length ? o : null);

/** The client metadata member each override replaces in the build. */
const METADATA_OF_OVERRIDE = {
  clientName: 'client_name',
  redirectUris: 'redirect_uris',
  grantTypes: 'grant_types',
  responseTypes: 'response_types',
  tokenEndpointAuthMethod: 'token_endpoint_auth_method',
  scope: 'scope',
  keyAlgorithm: 'token_endpoint_auth_signing_alg',
};

/** Field-by-field differences between two normalised profiles, as dotted paths. */
export function profileChanges(from, to) {
  const changes = [];
  for (const key of Object.keys(to)) {
    if (key === 'environments') continue;
    if (canonical(from[key]) !== canonical(to[key])) changes.push({ field: key, from: from[key], to: to[key] });
  }
  const names = new Set([...Object.keys(from.environments ?? {}), ...Object.keys(to.environments)]);
  for (const env of [...names].sort()) {
    const a = from.environments?.[env];
    const b = to.environments[env];
    if (!a || !b) {
      changes.push({ field: `environments.${env}`, from: a ?? null, to: b ?? null });
      continue;
    }
    for (const key of Object.keys(b)) if (canonical(a[key]) !== canonical(b[key])) changes.push({ field: `environments.${env}.${key}`, from: a[key], to: b[key] });
  }
  return changes;
}

/** The client metadata member a profile field becomes at registration (null: not part of the metadata). */
const METADATA_OF = {
  name: 'client_name',
  softwareId: 'software_id',
  softwareVersion: 'software_version',
  clientUri: 'client_uri',
  logoUri: 'logo_uri',
  tosUri: 'tos_uri',
  policyUri: 'policy_uri',
  contacts: 'contacts',
  redirectUris: 'redirect_uris',
  grantTypes: 'grant_types',
  responseTypes: 'response_types',
  tokenEndpointAuthMethod: 'token_endpoint_auth_method',
  scope: 'scope',
  applicationType: 'application_type',
  keyAlgorithm: 'token_endpoint_auth_signing_alg',
};

/** The metadata a registration in `environment` would change to after these profile changes. */
function metadataChangesFor(changes, environment) {
  const out = [];
  for (const c of changes) {
    const parts = c.field.split('.');
    if (parts[0] !== 'environments') {
      if (METADATA_OF[parts[0]]) out.push({ field: METADATA_OF[parts[0]], to: c.to });
    } else if (parts[1] === environment && parts[2] && METADATA_OF[parts[2]]) {
      out.push({ field: METADATA_OF[parts[2]], to: c.to });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The plan

/** Reads Registrar's inventory through the API and compares. Only reads, except that checking a managed registration for drift reads it at the hospital (RFC 7592), which Registrar records. */
export async function plan(api, inv, opts) {
  const [serverHs, serverIssuers, serverApps, allRegs] = await Promise.all([api.all('/health-systems'), api.all('/issuers'), api.all('/apps'), api.all('/registrations?sort=createdAt&dir=desc')]);
  // Deleted registrations are history: they neither satisfy the file nor count as extra.
  const serverRegs = allRegs.filter((r) => r.status !== 'deleted');
  const actions = [];
  const warnings = [];

  const hsByName = new Map(serverHs.map((h) => [h.name.toLowerCase(), h]));
  const hsIds = new Map();
  for (const hs of inv.healthSystems) {
    const found = hsByName.get(hs.name.trim().toLowerCase());
    if (found) hsIds.set(hs.name, found.id);
    actions.push({ kind: 'healthSystem', op: found ? 'noop' : 'create', name: hs.name.trim(), id: found?.id ?? null });
  }

  const issuerIds = new Map();
  for (const hs of inv.healthSystems) {
    for (const iss of hs.issuers ?? []) {
      const url = iss.url.trim();
      const found = serverIssuers.find((s) => s.inputUrl === url || s.issuer === url);
      if (found) {
        issuerIds.set(url, found.id);
        const hsId = hsIds.get(hs.name);
        if (hsId && found.healthSystemId !== hsId) warnings.push(`issuer ${url} belongs to “${found.healthSystemName}” in Registrar, not “${hs.name}”; left as it is.`);
        if (found.environment !== iss.environment.trim()) warnings.push(`issuer ${url} has environment “${found.environment}” in Registrar, not “${iss.environment}”; left as it is (environments are not changed by apply).`);
      }
      actions.push({ kind: 'issuer', op: found ? 'noop' : 'create', url, environment: iss.environment.trim(), epicClientId: iss.epicClientId ?? null, healthSystem: hs.name.trim(), id: found?.id ?? null });
    }
  }

  const appPlans = new Map();
  for (const app of inv.apps) {
    const wanted = normalizeProfile(app);
    const found = serverApps.find((a) => a.softwareId === wanted.softwareId);
    const changes = found ? profileChanges(normalizeProfile(found.profile), wanted) : [];
    const action = { kind: 'app', op: !found ? 'create' : changes.length ? 'update' : 'noop', name: wanted.name, softwareId: wanted.softwareId, id: found?.id ?? null, version: found?.currentVersion ?? null, changes, profile: app };
    appPlans.set(app, action);
    actions.push(action);
  }

  const declaredAppIds = new Set([...appPlans.values()].map((a) => a.id).filter(Boolean));
  const matched = new Set();
  for (const reg of inv.registrations) {
    const app = inv.appRefs.get(reg.app.trim());
    const appAction = appPlans.get(app);
    const url = reg.issuer.trim();
    const issuerId = issuerIds.get(url) ?? null;
    const base = { kind: 'registration', app: appAction.name, softwareId: appAction.softwareId, issuer: url, environment: reg.environment, spec: reg };
    const existing = appAction.id && issuerId ? serverRegs.filter((r) => r.appId === appAction.id && r.issuerId === issuerId && r.environment === reg.environment) : [];
    if (existing.length === 0) {
      actions.push({ ...base, op: 'create', id: null });
      continue;
    }
    if (existing.length > 1) warnings.push(`${appAction.name} has ${existing.length} registrations at ${url} [${reg.environment}]; comparing the newest (${existing[0].clientId}).`);
    for (const r of existing) matched.add(r.id);
    const current = existing[0];
    const who = { ...base, id: current.id, clientId: current.clientId, managed: current.managed, status: current.status };
    // The overrides Registrar keeps for this registration, against the file's (none = none).
    const detail = await api.get(`/registrations/${current.id}`);
    const declared = normalizeOverrides(reg.overrides);
    const stored = normalizeOverrides(detail.overrides);
    const overridesChange = sameOverrides(declared, stored) ? null : { field: 'overrides', from: overridesShown(stored), to: overridesShown(declared) };
    // What the sync that carries the change sends along: the file's overrides, `{}` to drop them.
    const withOverrides = overridesChange ? { overrides: declared } : {};
    // A profile change to a field the overrides set does not reach the registration.
    const profileChanges = appAction.op === 'update' ? metadataChangesFor(appAction.changes, reg.environment).filter((c) => !Object.keys(declared).some((k) => METADATA_OF_OVERRIDE[k] === c.field)) : [];
    const fromRegistered = (c) => ({ field: c.field, from: detail.metadata.registered[c.field] ?? null, to: c.to });
    if (!current.managed && overridesChange) {
      // Registrar cannot send the change, and must not record overrides the hospital does not have.
      actions.push({
        ...who,
        op: 'blocked',
        note: 'cannot be applied: the hospital offers no RFC 7592 management for this client (Epic never does), so Registrar cannot change it',
        changes: [overridesChange, ...profileChanges.map(fromRegistered)],
      });
      continue;
    }
    if (appAction.op === 'update') {
      if (profileChanges.length === 0 && !overridesChange) {
        actions.push({ ...who, op: 'noop' });
        continue;
      }
      if (!current.managed) {
        warnings.push(`${appAction.name} @ ${url} [${reg.environment}] (client ${current.clientId}) cannot be updated from Registrar (no RFC 7592 management): change ${profileChanges.map((c) => c.field).join(', ')} in the hospital’s portal.`);
        actions.push({ ...who, op: 'noop' });
        continue;
      }
      actions.push({ ...who, op: 'update', reason: overridesChange ? 'app profile, overrides' : 'app profile', changes: [...(overridesChange ? [overridesChange] : []), ...profileChanges.map(fromRegistered)], ...withOverrides });
      continue;
    }
    if (!current.managed) {
      actions.push({ ...who, op: 'noop', note: 'not managed (RFC 7592): drift not checked' });
      continue;
    }
    try {
      const sync = await api.post(`/registrations/${current.id}/sync`, { confirm: false, ...withOverrides });
      const differing = sync.diff.filter((d) => d.differs);
      if (differing.length === 0 && !overridesChange) actions.push({ ...who, op: 'noop' });
      else {
        const drift = differing.map((d) => ({ field: d.field, from: d.server === null ? null : JSON.parse(d.server), to: d.profile === null ? null : JSON.parse(d.profile) }));
        actions.push({ ...who, op: 'update', reason: overridesChange ? 'overrides' : 'drift', appVersion: sync.appVersion, changes: [...(overridesChange ? [overridesChange] : []), ...drift], ...withOverrides });
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      // Not "unchanged": the hospital could not be read (an outage) or this token may not ask (401,
      // 403). An outcome of its own, so a plan that could not look never reads as "in sync".
      actions.push({ ...who, op: 'unchecked', note: `drift not checked: ${firstLine(error)}`, error: errorSummary(error), ...(overridesChange ? { changes: [overridesChange] } : {}) });
    }
  }

  let ignored = 0;
  for (const r of serverRegs) {
    if (matched.has(r.id)) continue;
    if (!declaredAppIds.has(r.appId)) {
      ignored++;
      continue;
    }
    actions.push({ kind: 'registration', op: opts.prune ? 'delete' : 'orphan', app: r.appName, issuer: r.issuerUrl, environment: r.environment, id: r.id, clientId: r.clientId, managed: r.managed });
  }
  return { actions, warnings, ignored };
}

export const countChanges = (p) => p.actions.filter((a) => a.op === 'create' || a.op === 'update' || a.op === 'delete').length;
export const countUnchecked = (p) => p.actions.filter((a) => a.op === 'unchecked').length;
/** Changes the file asks for that apply cannot make (a registration without RFC 7592 management). */
export const countBlocked = (p) => p.actions.filter((a) => a.op === 'blocked').length;

/** describeError's first line without "Error: ": the message, code and status, for one line of output. */
const firstLine = (error) => describeError(error).split('\n')[0].replace(/^Error: /, '');

/** An error as the JSON summary reports it. */
const errorSummary = (error) =>
  error instanceof ApiError ? { code: error.code, status: error.status, message: error.message, ...(error.problem?.requestId ? { requestId: error.problem.requestId } : {}) } : { code: null, status: null, message: String(error?.message ?? error) };

/** An action as JSON shows it: without the inventory's profile and registration spec (the file has them). */
const publicAction = ({ profile: _p, spec: _s, ...a }) => a;

// ---------------------------------------------------------------------------------------------
// Printing

const show = (v) => (v === null || v === undefined ? '(absent)' : JSON.stringify(v));
const SIGN = { create: '+', update: '~', delete: '-', orphan: '?', noop: '=', unchecked: '!', blocked: '✗' };

function label(a) {
  switch (a.kind) {
    case 'healthSystem':
      return `health system “${a.name}”`;
    case 'issuer':
      return `issuer ${a.url} (${a.environment}) in “${a.healthSystem}”`;
    case 'app':
      return `app “${a.name}” (${a.softwareId})${a.op === 'update' ? ` v${a.version} → v${a.version + 1}` : ''}`;
    default:
      return `registration ${a.app} @ ${a.issuer} [${a.environment}]${a.clientId ? ` client ${a.clientId}` : ''}`;
  }
}

export function printPlan(p, out, { file, url, prune }) {
  out.write(`Plan for ${file} against ${url}\n\n`);
  const visible = p.actions.filter((a) => a.op !== 'noop');
  for (const a of visible) {
    const suffix = a.op === 'orphan' ? ' exists but is not in the file (kept; --prune deletes it)' : a.op === 'unchecked' || a.op === 'blocked' ? `: ${a.note}` : a.op === 'update' && a.reason ? ` (${a.reason})` : '';
    out.write(`  ${SIGN[a.op]} ${label(a)}${suffix}\n`);
    for (const c of a.changes ?? []) out.write(`      ${c.field}: ${show(c.from)} → ${show(c.to)}\n`);
  }
  const unchanged = p.actions.filter((a) => a.op === 'noop');
  if (unchanged.length) out.write(`  = ${unchanged.length} unchanged\n`);
  for (const a of unchanged.filter((x) => x.note)) out.write(`      ${label(a)}: ${a.note}\n`);
  for (const w of p.warnings) out.write(`  ! ${w}\n`);
  const n = (op) => p.actions.filter((a) => a.op === op).length;
  const orphans = n('orphan');
  const unchecked = n('unchecked');
  const blocked = n('blocked');
  out.write(
    `\nPlan: ${n('create')} to create, ${n('update')} to update, ${n('delete')} to delete, ${unchanged.length} unchanged` +
      `${unchecked ? `, ${unchecked} not checked` : ''}` +
      `${blocked ? `, ${blocked} that cannot be applied` : ''}` +
      `${orphans ? `; ${orphans} not in the file${prune ? '' : ' (kept)'}` : ''}` +
      `${p.ignored ? `; ${p.ignored} registration${p.ignored === 1 ? '' : 's'} of apps not in the file ignored` : ''}.\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Carrying it out

/**
 * Carries out the plan's changes in order. `progress` records each action once its request has
 * succeeded, and the one in flight, so a failure part-way can say what was done and what failed.
 */
async function execute(api, p, inv, opts, log, progress) {
  const hsIds = new Map(p.actions.filter((a) => a.kind === 'healthSystem' && a.id).map((a) => [a.name.toLowerCase(), a.id]));
  const issuerIds = new Map(p.actions.filter((a) => a.kind === 'issuer' && a.id).map((a) => [a.url, a.id]));
  const appState = new Map(p.actions.filter((a) => a.kind === 'app' && a.id).map((a) => [a.softwareId, { id: a.id, version: a.version }]));
  const step = async (a, run) => {
    progress.current = a;
    await run();
    progress.done.push(a);
    progress.current = null;
  };

  for (const a of p.actions.filter((x) => x.kind === 'healthSystem' && x.op === 'create')) {
    await step(a, async () => {
      const created = await api.post('/health-systems', { name: a.name });
      hsIds.set(a.name.toLowerCase(), created.id);
      log(`+ created health system “${a.name}” (${created.id})`);
    });
  }
  for (const a of p.actions.filter((x) => x.kind === 'issuer' && x.op === 'create')) {
    await step(a, async () => {
      const issuer = await api.post('/issuers', { healthSystemId: hsIds.get(a.healthSystem.toLowerCase()), url: a.url, environment: a.environment, ...(a.epicClientId ? { epicClientId: a.epicClientId } : {}) });
      issuerIds.set(a.url, issuer.id);
      log(`+ added issuer ${a.url} → ${issuer.issuer ?? '(no issuer identifier)'} (${issuer.id})${issuer.endpoints.registration ? '' : ' — no registration endpoint: dynamic registration impossible'}`);
    });
  }
  for (const a of p.actions.filter((x) => x.kind === 'app' && (x.op === 'create' || x.op === 'update'))) {
    await step(a, async () => {
      if (a.op === 'create') {
        const created = await api.post('/apps', a.profile);
        appState.set(a.softwareId, { id: created.id, version: created.version });
        log(`+ created app “${a.name}” (${created.id})`);
      } else {
        const saved = await api.put(`/apps/${a.id}`, { expectedVersion: a.version, profile: a.profile });
        appState.set(a.softwareId, { id: saved.id, version: saved.version });
        log(`~ saved app “${a.name}” as v${saved.version}`);
      }
    });
  }
  for (const a of p.actions.filter((x) => x.kind === 'registration' && x.op === 'create')) {
    await step(a, async () => {
      const app = appState.get(a.softwareId);
      const body = { issuerId: issuerIds.get(a.issuer), appId: app.id, environment: a.environment };
      const iat = initialAccessTokenOf(a.spec, opts.env);
      if (iat) body.initialAccessToken = iat;
      if (a.spec.softwareStatement) body.softwareStatement = a.spec.softwareStatement;
      const overrides = normalizeOverrides(a.spec.overrides);
      if (Object.keys(overrides).length) body.overrides = overrides;
      const reg = await api.post('/registrations', body, { 'Idempotency-Key': opts.newKey() });
      log(`+ registered ${a.app} @ ${a.issuer} [${a.environment}]: client ${reg.clientId} (${reg.authMethod}${reg.secretExpiresAt ? `, secret expires ${reg.secretExpiresAt}` : ''})`);
      for (const w of reg.warnings) log(`    warning ${w.code}: ${w.message}`);
    });
  }
  for (const a of p.actions.filter((x) => x.kind === 'registration' && x.op === 'update')) {
    await step(a, async () => {
      const app = appState.get(a.softwareId);
      // With the file's overrides when they changed: the sync builds from them and, once the hospital holds the result, Registrar keeps them.
      const result = await api.post(`/registrations/${a.id}/sync`, { confirm: true, appVersion: app.version, ...(a.overrides ? { overrides: a.overrides } : {}) });
      const sent = result.changedFields.length ? result.changedFields.join(', ') : 'already matched the profile';
      log(`~ updated ${a.app} @ ${a.issuer} [${a.environment}] client ${a.clientId}: ${sent}${result.overrides?.changed ? '; overrides stored' : ''}`);
      for (const w of result.update?.warnings ?? []) log(`    warning ${w.code}: ${w.message}`);
    });
  }
  for (const a of p.actions.filter((x) => x.kind === 'registration' && x.op === 'delete')) {
    await step(a, async () => {
      await api.delete(`/registrations/${a.id}`);
      log(`- deleted ${a.app} @ ${a.issuer} [${a.environment}] client ${a.clientId} at the hospital`);
    });
  }
}

/**
 * Runs execute; a failure part-way is returned, not thrown, with what was done before it: the
 * changes already made are real (at Registrar and at hospitals), so the caller must report them.
 */
async function carryOut(api, p, inv, opts, log) {
  const progress = { done: [], current: null };
  try {
    await execute(api, p, inv, { ...opts, env: process.env }, log, progress);
    return null;
  } catch (error) {
    return { error, done: progress.done, failed: progress.current };
  }
}

/** Everything the apply will need from the environment, checked before the first change; false (reported) when something is missing. */
function preflight(p, env, err) {
  try {
    for (const a of p.actions) if (a.kind === 'registration' && a.op === 'create') initialAccessTokenOf(a.spec, env);
    return true;
  } catch (error) {
    if (!(error instanceof InventoryError)) throw error;
    err.write(`${error.message} Nothing was changed.\n`);
    return false;
  }
}

/**
 * Exit code once the plan is printed (and applied, with --yes). Without --detailed-exitcode, 0.
 * With it: 4 when drift could not be checked for some registration — whether they are in sync is
 * unknown, which outweighs anything else the plan says — else 2 for changes left to make (a plan
 * without --yes), else 0.
 */
function exitCode(changes, unchecked, opts) {
  if (!opts.detailedExitcode) return 0;
  if (unchecked > 0) return 4;
  return changes > 0 && !opts.yes ? 2 : 0;
}

/** On stderr, like any error: the file asks for what apply cannot do, so the apply (or plan) fails whatever else it did. */
function reportBlocked(blocked, err) {
  err.write(
    `Error: ${blocked} change${blocked === 1 ? '' : 's'} in the file cannot be applied (marked ✗ in the plan): the registration has no RFC 7592 management, so Registrar cannot change it at the hospital. ` +
      'Keep the overrides Registrar holds (“from” in the plan) in the file; such a client can only be changed in the hospital’s own portal.\n',
  );
}

/** On stderr as well, so it is seen even when stdout is JSON for a machine or scrolled past. */
function warnUnchecked(unchecked, err) {
  err.write(`Warning: drift could not be checked for ${unchecked} registration${unchecked === 1 ? '' : 's'} (marked ! in the plan); they may differ at the hospital. With --detailed-exitcode this exits 4.\n`);
}

/** Text: which action failed, with what error, and what had been done before it. */
function printFailure(out, failure, changes) {
  const { error, done, failed } = failure;
  out.write(`\nFailed${failed ? ` at ${SIGN[failed.op]} ${label(failed)}` : ''}: ${firstLine(error)}\n`);
  if (done.length === 0) out.write('No change was made before it.\n');
  else {
    out.write(`Already done (${done.length} of ${changes} change${changes === 1 ? '' : 's'}):\n`);
    for (const a of done) out.write(`  ${SIGN[a.op]} ${label(a)}\n`);
  }
  const after = changes - done.length - (failed ? 1 : 0);
  out.write(`Not applied: ${failed ? 'that change' : 'the change that failed'}${after > 0 ? ` and the ${after} after it` : ''}. Fix the cause and run apply again: it plans only what is left.\n`);
}

/**
 * Exit code: 0 nothing to do or applied, 2 changes planned (--detailed-exitcode, without --yes), 4
 * drift not checked (--detailed-exitcode), 1 error — including a change apply cannot make (plan or
 * apply: no run can bring the file and Registrar in line, so it must not read as done or to do).
 */
export async function runApply(api, file, opts) {
  const err = opts.err ?? process.stderr;
  let inv;
  try {
    inv = await loadInventory(file);
  } catch (error) {
    if (error instanceof InventoryError) {
      err.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const p = await plan(api, inv, opts);
  return opts.format === 'json' ? reportJson(api, p, inv, { ...opts, err }) : reportText(api, file, p, inv, { ...opts, err });
}

async function reportJson(api, p, inv, opts) {
  const changes = countChanges(p);
  const unchecked = countUnchecked(p);
  const blocked = countBlocked(p);
  const summary = { changes, unchecked, blocked, actions: p.actions.map(publicAction), warnings: p.warnings, ignored: p.ignored, applied: false };
  if (unchecked) warnUnchecked(unchecked, opts.err);
  if (changes > 0 && opts.yes) {
    if (!preflight(p, process.env, opts.err)) return 1;
    const log = [];
    const failure = await carryOut(api, p, inv, opts, (line) => log.push(line));
    summary.log = log;
    if (failure) {
      // "partial": some changes are made and the rest are not; a script must not read this as either.
      summary.applied = failure.done.length ? 'partial' : false;
      summary.failed = { action: failure.failed ? publicAction(failure.failed) : null, error: errorSummary(failure.error) };
      opts.out.write(JSON.stringify(summary, null, 2) + '\n');
      throw failure.error; // main reports it on stderr and exits 1
    }
    // The changes that could be made are; those that cannot are not: "partial", as after a failure.
    summary.applied = blocked ? 'partial' : true;
  }
  opts.out.write(JSON.stringify(summary, null, 2) + '\n');
  if (blocked) {
    reportBlocked(blocked, opts.err);
    return 1;
  }
  return exitCode(changes, unchecked, opts);
}

async function reportText(api, file, p, inv, opts) {
  const out = opts.out;
  const changes = countChanges(p);
  const unchecked = countUnchecked(p);
  const blocked = countBlocked(p);
  printPlan(p, out, { file, url: api.base, prune: opts.prune });
  if (unchecked) warnUnchecked(unchecked, opts.err);
  const cannot = blocked ? ` ${blocked} change${blocked === 1 ? '' : 's'} cannot be applied (✗ above).` : '';
  const ending = (code) => {
    if (!blocked) return code;
    reportBlocked(blocked, opts.err);
    return 1;
  };
  if (changes === 0) {
    if (blocked) out.write(`\nNothing apply can do:${cannot}\n`);
    else out.write(unchecked ? `\nNothing to do among what could be checked; drift was NOT checked for ${unchecked} registration${unchecked === 1 ? '' : 's'} (! above).\n` : '\nNothing to do.\n');
    return ending(exitCode(changes, unchecked, opts));
  }
  if (!opts.yes) {
    out.write(`\nRun again with --yes to apply.${cannot}\n`);
    return ending(exitCode(changes, unchecked, opts));
  }
  if (!preflight(p, process.env, opts.err)) return 1;
  out.write('\nApplying…\n');
  const failure = await carryOut(api, p, inv, opts, (line) => out.write(`  ${line}\n`));
  if (failure) {
    printFailure(out, failure, changes);
    throw failure.error; // main reports it on stderr and exits 1
  }
  out.write(blocked ? `\nApplied, except what cannot be:${cannot}\n` : '\nApplied.\n');
  return ending(exitCode(changes, unchecked, opts));
}
