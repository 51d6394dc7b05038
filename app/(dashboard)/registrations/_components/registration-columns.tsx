'use client';

import { utcDay, utcMinute } from '@/lib/format-time';
import type { ColumnDef } from '@tanstack/react-table';
import Link from 'next/link';
import { Badge } from '@/components/ui/card';
import { CopyButton } from '@/components/ui/copy-button';
import type { RegistrationTableRow } from '@/lib/registrations/table';
import { ExpiryBadge } from './expiry-badge';

const date = (iso: string | null) => (iso ? <span title={utcMinute(iso)}>{utcDay(iso)}</span> : <span className="text-slate-400">never</span>);

/** Columns of the registrations table; `meta.sortKey` names the server-side sort it maps to. */
export function getRegistrationColumns(): Array<ColumnDef<RegistrationTableRow>> {
  return [
    { id: 'healthSystem', header: 'Health system', meta: { sortKey: 'healthSystem' }, cell: ({ row }) => <Link href={`/health-systems/${row.original.healthSystemId}`}>{row.original.healthSystemName}</Link> },
    { id: 'issuer', header: 'Issuer', meta: { sortKey: 'issuer' }, cell: ({ row }) => <span className="font-mono text-xs">{row.original.issuerUrl}</span> },
    { id: 'environment', header: 'Environment', meta: { sortKey: 'environment' }, cell: ({ row }) => row.original.environment },
    { id: 'app', header: 'App', meta: { sortKey: 'app' }, cell: ({ row }) => row.original.appName },
    {
      id: 'clientId',
      header: 'Client id',
      meta: { sortKey: 'clientId' },
      cell: ({ row }) => (
        <span className="flex items-center gap-1 font-mono text-xs">
          <Link href={`/registrations/${row.original.id}`} className="hover:underline">
            {row.original.clientId}
          </Link>
          <CopyButton text={row.original.clientId} label="Copy" />
        </span>
      ),
    },
    { id: 'authMethod', header: 'Auth method', meta: { sortKey: 'authMethod' }, cell: ({ row }) => row.original.authMethod },
    { id: 'status', header: 'Status', meta: { sortKey: 'status' }, cell: ({ row }) => <Badge tone={row.original.status === 'active' ? 'good' : 'bad'}>{row.original.status}</Badge> },
    { id: 'secretExpiresAt', header: 'Secret expiry', meta: { sortKey: 'secretExpiresAt' }, cell: ({ row }) => <ExpiryBadge expiry={row.original.expiry} /> },
    {
      id: 'rat',
      header: 'Registration token',
      cell: ({ row }) => (row.original.hasRegistrationAccessToken ? <Badge tone="good">held</Badge> : <Badge>{row.original.managed ? 'missing' : 'none'}</Badge>),
    },
    { id: 'scopeDiff', header: 'Scopes', cell: ({ row }) => (row.original.scopeLostCount ? <Badge tone="warn">{row.original.scopeLostCount} lost</Badge> : <Badge tone="good">as requested</Badge>) },
    {
      id: 'redirectFindings',
      header: 'Redirect URIs',
      cell: ({ row }) => (row.original.redirectFindingCount ? <Badge tone="warn">{row.original.redirectFindingCount} findings</Badge> : <Badge tone="good">ok</Badge>),
    },
    { id: 'lastRotatedAt', header: 'Last rotated (UTC)', meta: { sortKey: 'lastRotatedAt' }, cell: ({ row }) => date(row.original.lastRotatedAt) },
    { id: 'lastCheckedAt', header: 'Last checked (UTC)', meta: { sortKey: 'lastCheckedAt' }, cell: ({ row }) => date(row.original.lastCheckedAt) },
  ];
}
