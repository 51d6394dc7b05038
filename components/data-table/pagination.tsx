'use client';

import { Button } from '@/components/ui/button';
import { useUrlState } from './use-url-state';

export function Pagination({ page, pageSize, total }: { page: number; pageSize: number; total: number }) {
  const { set } = useUrlState();
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return (
    <nav aria-label="Pagination" className="flex items-center justify-between gap-3 px-3 py-2 text-sm">
      <span data-testid="table-total">
        {total.toLocaleString()} registration{total === 1 ? '' : 's'} · page {page} of {pages}
      </span>
      <div className="flex items-center gap-2">
        <label className="flex items-center gap-1">
          Rows
          <select value={pageSize} onChange={(e) => set({ pageSize: e.target.value })} className="rounded border px-1 py-0.5">
            {[10, 25, 50, 100].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <Button variant="secondary" disabled={page <= 1} onClick={() => set({ page: page - 1 }, { keepPage: true })}>
          Previous
        </Button>
        <Button variant="secondary" disabled={page >= pages} onClick={() => set({ page: page + 1 }, { keepPage: true })}>
          Next
        </Button>
      </div>
    </nav>
  );
}
