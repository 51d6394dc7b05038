'use client';

import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Badge } from '@/components/ui/card';
import { revokeApiTokenAction } from '../actions';

type TokenRow = {
  id: string;
  name: string;
  prefix: string;
  role: string;
  permissions: string[] | null;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  state: 'active' | 'revoked' | 'expired';
};

const when = (iso: string | null, none: string) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : none);

export function TokenList({ tokens }: { tokens: TokenRow[] }) {
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  if (tokens.length === 0) return <p className="text-sm text-slate-500">No API tokens yet.</p>;
  return (
    <div className="space-y-3">
      {error ? <Alert>{error}</Alert> : null}
      <table className="min-w-full text-sm">
        <thead className="text-left text-xs uppercase text-slate-500">
          <tr>
            <th className="py-2">Name</th>
            <th className="py-2">Role and permissions</th>
            <th className="py-2">Created</th>
            <th className="py-2">Expires</th>
            <th className="py-2">Last used</th>
            <th className="py-2">State</th>
            <th className="py-2">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {tokens.map((t) => (
            <tr key={t.id}>
              <td className="py-2">
                <div className="font-medium">{t.name}</div>
                <code className="text-xs text-slate-500">{t.prefix}…</code>
              </td>
              <td className="py-2">
                <span className="font-medium">{t.role}</span>
                <div className="text-xs text-slate-600">{t.permissions ? t.permissions.join(', ') : 'all of the role’s permissions'}</div>
              </td>
              <td className="py-2 text-slate-600">
                {when(t.createdAt, '')}
                {t.createdBy ? <div className="text-xs">by {t.createdBy}</div> : null}
              </td>
              <td className="py-2 text-slate-600">{when(t.expiresAt, 'never')}</td>
              <td className="py-2 text-slate-600">{when(t.lastUsedAt, 'never used')}</td>
              <td className="py-2">
                <Badge tone={t.state === 'active' ? 'good' : 'bad'}>{t.state}</Badge>
              </td>
              <td className="py-2 text-right">
                {t.state === 'active' ? (
                  <Button
                    variant="danger"
                    disabled={pending}
                    onClick={() => {
                      if (!window.confirm(`Revoke the token “${t.name}”? Anything using it stops working at once.`)) return;
                      startTransition(async () => {
                        const result = await revokeApiTokenAction({ id: t.id });
                        setError(result.ok ? null : result.error.message);
                      });
                    }}
                  >
                    Revoke<span className="sr-only"> {t.name}</span>
                  </Button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
