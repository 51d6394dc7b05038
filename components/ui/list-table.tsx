/**
 * A page's main list: a framed, horizontally scrollable table with one header row. The rows
 * (`<tr>`s) are the children; `dense` matches header padding to rows that use px-3 cells; `footer`
 * goes inside the frame below the table (an empty-state line, pagination).
 */
export function ListTable({ columns, label, dense = false, className = '', footer, children }: { columns: readonly string[]; label?: string; dense?: boolean; className?: string; footer?: React.ReactNode; children: React.ReactNode }) {
  const cell = dense ? 'px-3 py-2' : 'px-4 py-2';
  return (
    <div className={`overflow-x-auto rounded-lg border border-slate-200 bg-white ${className}`.trim()}>
      <table className="min-w-full text-sm" aria-label={label}>
        <thead className="bg-slate-50 text-left text-xs uppercase text-slate-500">
          <tr>
            {columns.map((column) => (
              <th key={column} className={cell}>
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">{children}</tbody>
      </table>
      {footer}
    </div>
  );
}
