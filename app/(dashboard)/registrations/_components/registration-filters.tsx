'use client';

import { Button } from '@/components/ui/button';
import { useUrlState } from '@/components/data-table/use-url-state';

type Option = { id: string; name: string };

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
        <input name="q" defaultValue={value('q')} placeholder="client id, hospital, app, issuer" className={`${select} w-64`} />
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
          {[7, 30, 90, 180].map((d) => (
            <option key={d} value={d}>
              {d} days
            </option>
          ))}
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
      {canExport ? (
        <a href={`/api/registrations/export?${params.toString()}`} className="ml-auto rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium" download>
          Export CSV
        </a>
      ) : null}
    </form>
  );
}
