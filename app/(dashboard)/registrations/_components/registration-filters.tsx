'use client';

import { Button } from '@/components/ui/button';
import { useUrlState } from '@/components/data-table/use-url-state';

type Option = { id: string; name: string };

/** Every URL parameter that narrows the table (not sorting or paging). */
const FILTER_KEYS = ['q', 'healthSystemId', 'issuerId', 'appId', 'environment', 'status', 'expiringWithinDays', 'expiresFrom', 'expiresTo', 'hasFindings'];

/**
 * Filters that only links set (the overview's forecast bars, an issuer page) and that have no
 * control above: shown so the table never looks complete while it is narrowed, each removable.
 */
function LinkOnlyFilters({ params, clear }: { params: URLSearchParams; clear: (keys: string[]) => void }) {
  const from = params.get('expiresFrom');
  const to = params.get('expiresTo');
  const issuer = params.get('issuerId');
  const chips: Array<{ label: string; keys: string[] }> = [
    ...(from || to ? [{ label: `Secret expires ${from ? `from ${from}` : ''}${from && to ? ' ' : ''}${to ? `before ${to}` : ''} (UTC)`, keys: ['expiresFrom', 'expiresTo'] }] : []),
    ...(issuer ? [{ label: 'One issuer only', keys: ['issuerId'] }] : []),
  ];
  if (chips.length === 0) return null;
  return (
    <ul aria-label="Other filters" className="flex w-full flex-wrap gap-2 text-sm">
      {chips.map((c) => (
        <li key={c.label} className="flex items-center gap-1 rounded-full border border-slate-300 bg-slate-50 px-2 py-0.5">
          {c.label}
          <button type="button" aria-label={`Remove filter: ${c.label}`} className="text-slate-500 hover:text-slate-900" onClick={() => clear(c.keys)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

/** Filters of the registrations table; each one is a URL parameter. */
export function RegistrationFilters({ healthSystems, apps, environments, canExport }: { healthSystems: Option[]; apps: Option[]; environments: string[]; canExport: boolean }) {
  const { params, set } = useUrlState();
  const value = (k: string) => params.get(k) ?? '';
  const select = 'rounded-md border border-slate-300 bg-white px-2 py-1 text-sm';
  return (
    <form
      role="search"
      aria-label="Filter registrations"
      className="mb-3 flex flex-wrap items-end gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        set({ q: String(new FormData(e.currentTarget).get('q') ?? '') });
      }}
    >
      <label className="text-sm">
        <span className="block text-xs text-slate-500">Search</span>
        {/* Keyed by the URL's value: a link or "Clear filters" that changes q replaces stale typed text. */}
        <input key={value('q')} name="q" defaultValue={value('q')} placeholder="client id, hospital, app, issuer" className={`${select} w-64`} />
      </label>
      <label className="text-sm">
        <span className="block text-xs text-slate-500">Health system</span>
        <select aria-label="Health system" className={select} value={value('healthSystemId')} onChange={(e) => set({ healthSystemId: e.target.value })}>
          <option value="">all</option>
          {healthSystems.map((h) => (
            <option key={h.id} value={h.id}>
              {h.name}
            </option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        <span className="block text-xs text-slate-500">App</span>
        <select aria-label="App" className={select} value={value('appId')} onChange={(e) => set({ appId: e.target.value })}>
          <option value="">all</option>
          {apps.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        <span className="block text-xs text-slate-500">Environment</span>
        <select aria-label="Environment" className={select} value={value('environment')} onChange={(e) => set({ environment: e.target.value })}>
          <option value="">all</option>
          {environments.map((e) => (
            <option key={e}>{e}</option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        <span className="block text-xs text-slate-500">Status</span>
        <select aria-label="Status" className={select} value={value('status')} onChange={(e) => set({ status: e.target.value })}>
          <option value="">all</option>
          {['active', 'needs_attention', 'management_lost', 'deleted'].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label className="text-sm">
        <span className="block text-xs text-slate-500">Expiring within</span>
        <select aria-label="Expiring within" className={select} value={value('expiringWithinDays')} onChange={(e) => set({ expiringWithinDays: e.target.value })}>
          <option value="">any time</option>
          <option value="0">already expired</option>
          {[7, 30, 90, 180].map((d) => (
            <option key={d} value={d}>
              expired or within {d} days
            </option>
          ))}
          {/* A value from a link (the overview) that is not in the list is still shown, not "any time". */}
          {value('expiringWithinDays') && !['0', '7', '30', '90', '180'].includes(value('expiringWithinDays')) ? (
            <option value={value('expiringWithinDays')}>expired or within {value('expiringWithinDays')} days</option>
          ) : null}
        </select>
      </label>
      <label className="text-sm">
        <span className="block text-xs text-slate-500">Findings</span>
        <select aria-label="Findings" className={select} value={value('hasFindings')} onChange={(e) => set({ hasFindings: e.target.value })}>
          <option value="">any</option>
          <option value="true">with findings</option>
          <option value="false">without findings</option>
        </select>
      </label>
      <Button type="submit" variant="secondary">
        Search
      </Button>
      {FILTER_KEYS.some((k) => params.has(k)) ? (
        <Button variant="ghost" onClick={() => set(Object.fromEntries(FILTER_KEYS.map((k) => [k, null])))}>
          Clear filters
        </Button>
      ) : null}
      <LinkOnlyFilters params={params} clear={(keys) => set(Object.fromEntries(keys.map((k) => [k, null])))} />
      {canExport ? (
        <a href={`/api/registrations/export?${params.toString()}`} className="ml-auto rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium" download>
          Export CSV
        </a>
      ) : null}
    </form>
  );
}
