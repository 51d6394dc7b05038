'use client';

import { flexRender, getCoreRowModel, useReactTable, type ColumnDef, type RowSelectionState, type VisibilityState } from '@tanstack/react-table';
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { Pagination } from '@/components/data-table/pagination';
import { useUrlState } from '@/components/data-table/use-url-state';
import type { RegistrationTableRow } from '@/lib/registrations/table';
import { getRegistrationColumns } from './registration-columns';

const VISIBILITY_KEY = 'registrar.registrations.columns';

/**
 * The registrations table in manual mode: the server already filtered, sorted and paged in SQL;
 * this component renders and turns header clicks into URL changes. Column visibility is remembered.
 */
// Loaded only once rows are selected: it stays out of the page's first-load JavaScript.
const BulkRotateBar = lazy(() => import('./bulk-rotate-bar').then((m) => ({ default: m.BulkRotateBar })));

const selectColumn: ColumnDef<RegistrationTableRow> = {
  id: 'select',
  enableHiding: false,
  header: ({ table }) => <input type="checkbox" aria-label="Select every registration on this page" checked={table.getIsAllRowsSelected()} onChange={table.getToggleAllRowsSelectedHandler()} />,
  cell: ({ row }) => <input type="checkbox" aria-label={`Select ${row.original.clientId}`} checked={row.getIsSelected()} onChange={row.getToggleSelectedHandler()} />,
};

/**
 * The registrations table in manual mode: the server already filtered, sorted and paged in SQL;
 * this component renders and turns header clicks into URL changes. Column visibility is remembered.
 * Ops (canRotate) can select rows on the page and rotate them in bulk.
 */
export function RegistrationsTable({
  rows,
  total,
  page,
  pageSize,
  sort,
  dir,
  canRotate = false,
}: {
  rows: RegistrationTableRow[];
  total: number;
  page: number;
  pageSize: number;
  sort: string;
  dir: 'asc' | 'desc';
  canRotate?: boolean;
}) {
  const { set } = useUrlState();
  const [visibility, setVisibility] = useState<VisibilityState>({});
  const [selection, setSelection] = useState<RowSelectionState>({});
  // A selection belongs to the rows on screen: another page, filter or sort starts a new one.
  useEffect(() => setSelection({}), [rows]);
  const selectedIds = Object.keys(selection).filter((id) => selection[id]);
  const columns = useMemo(() => (canRotate ? [selectColumn, ...getRegistrationColumns()] : getRegistrationColumns()), [canRotate]);
  useEffect(() => {
    try {
      const stored = localStorage.getItem(VISIBILITY_KEY);
      if (stored) setVisibility(JSON.parse(stored) as VisibilityState);
    } catch {
      // a corrupt preference is ignored
    }
  }, []);

  // eslint-disable-next-line react-hooks/incompatible-library -- TanStack Table manages its own memoisation
  const table = useReactTable({
    data: rows,
    columns,
    getCoreRowModel: getCoreRowModel(),
    manualPagination: true,
    manualSorting: true,
    manualFiltering: true,
    rowCount: total,
    state: { columnVisibility: visibility, rowSelection: selection },
    enableRowSelection: canRotate,
    onRowSelectionChange: setSelection,
    onColumnVisibilityChange: (updater) => {
      const next = typeof updater === 'function' ? updater(visibility) : updater;
      setVisibility(next);
      localStorage.setItem(VISIBILITY_KEY, JSON.stringify(next));
    },
    getRowId: (row) => row.id,
  });

  return (
    <div className="rounded-lg border border-slate-200 bg-white">
      <details className="border-b border-slate-100 px-3 py-2 text-sm">
        <summary className="cursor-pointer">Columns</summary>
        <div className="mt-2 flex flex-wrap gap-3">
          {table.getAllLeafColumns().filter((column) => column.getCanHide()).map((column) => (
            <label key={column.id} className="flex items-center gap-1">
              <input type="checkbox" checked={column.getIsVisible()} onChange={column.getToggleVisibilityHandler()} />
              {String(column.columnDef.header)}
            </label>
          ))}
        </div>
      </details>
      {canRotate && selectedIds.length > 0 ? (
        <Suspense fallback={<p className="border-b border-slate-100 px-3 py-2 text-sm">{selectedIds.length} selected</p>}>
          <BulkRotateBar registrationIds={selectedIds} onDone={() => setSelection({})} />
        </Suspense>
      ) : null}
      <div className="overflow-x-auto">
        <table className="min-w-full text-sm" aria-label="Registrations">
          <thead className="bg-slate-50 text-left text-xs uppercase text-slate-500">
            {table.getHeaderGroups().map((group) => (
              <tr key={group.id}>
                {group.headers.map((header) => {
                  const sortKey = (header.column.columnDef.meta as { sortKey?: string } | undefined)?.sortKey;
                  const active = sortKey === sort;
                  return (
                    <th key={header.id} className="whitespace-nowrap px-3 py-2" aria-sort={active ? (dir === 'asc' ? 'ascending' : 'descending') : undefined}>
                      {sortKey ? (
                        <button type="button" className="uppercase hover:underline" onClick={() => set({ sort: sortKey, dir: active && dir === 'asc' ? 'desc' : 'asc' })}>
                          {flexRender(header.column.columnDef.header, header.getContext())} {active ? (dir === 'asc' ? '▲' : '▼') : ''}
                        </button>
                      ) : (
                        flexRender(header.column.columnDef.header, header.getContext())
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody className="divide-y divide-slate-100">
            {table.getRowModel().rows.map((row) => (
              <tr key={row.id}>
                {row.getVisibleCells().map((cell) => (
                  <td key={cell.id} className="px-3 py-2 align-top">
                    {flexRender(cell.column.columnDef.cell, cell.getContext())}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? <p className="p-4 text-sm text-slate-500">No registrations match.</p> : null}
      </div>
      <Pagination page={page} pageSize={pageSize} total={total} />
    </div>
  );
}
