import { Card } from '@/components/ui/card';
import type { PublishedKeyPurpose } from '@/lib/apps/queries';

type Row = { environment: string; purpose: PublishedKeyPurpose; url: string; count: number };

const PURPOSE_LABEL: Record<PublishedKeyPurpose, string> = {
  client_auth: 'Client authentication (private_key_jwt; sent as jwks_uri)',
  software_statement: 'Software statements (give this URL to hospitals that verify them)',
};

/** The public key sets Registrar serves for the app, per environment: where, and how many keys each holds now. */
export function PublishedKeys({ rows }: { rows: Row[] }) {
  return (
    <Card title="Published public keys">
      <table className="w-full text-left text-sm" aria-label="Published public keys">
        <thead className="text-xs text-slate-500">
          <tr>
            <th className="py-1 pr-3 font-medium">Environment</th>
            <th className="py-1 pr-3 font-medium">Used for</th>
            <th className="py-1 pr-3 font-medium">JWKS URL</th>
            <th className="py-1 font-medium">Keys</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.environment}:${r.purpose}`} className="border-t border-slate-100 align-top">
              <td className="py-1 pr-3">{r.environment}</td>
              <td className="py-1 pr-3">{PURPOSE_LABEL[r.purpose]}</td>
              <td className="py-1 pr-3">
                <code className="break-all text-xs">{r.url}</code>
              </td>
              <td className="py-1">{r.count === 0 ? <span className="text-slate-500">none yet (made at the first registration that needs one)</span> : r.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
