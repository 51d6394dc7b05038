import { Card, PageHeader } from '@/components/ui/card';
import { ROLES } from '@/db/schema';
import { listApiTokens } from '@/lib/api/tokens';
import { requirePageUser } from '@/lib/auth/page-guard';
import { permissionsOf } from '@/lib/auth/permissions';
import { CreateTokenForm } from './_components/create-token-form';
import { TokenList } from './_components/token-list';

export default async function ApiTokensPage() {
  const { actor } = await requirePageUser('users:manage');
  const tokens = await listApiTokens(actor);
  return (
    <>
      <PageHeader
        title="API tokens"
        description="Tokens let machine clients (the registrar CLI, deployment pipelines) use the JSON API at /api/v1. A token acts with a role, optionally narrowed to some of its permissions; it is shown once and stored only as a hash. See the API page for what each permission allows."
      />
      <div className="space-y-6">
        <Card title="Create a token">
          <CreateTokenForm roles={ROLES.map((role) => ({ role, permissions: [...permissionsOf(role)] }))} />
        </Card>
        <Card title="Tokens">
          <TokenList
            tokens={tokens.map((t) => ({
              id: t.id,
              name: t.name,
              prefix: t.prefix,
              role: t.role,
              permissions: t.permissions,
              createdBy: t.createdBy,
              createdAt: t.createdAt.toISOString(),
              expiresAt: t.expiresAt?.toISOString() ?? null,
              lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
              revokedAt: t.revokedAt?.toISOString() ?? null,
              state: t.revokedAt ? 'revoked' : t.expired ? 'expired' : 'active',
            }))}
          />
        </Card>
      </div>
    </>
  );
}
