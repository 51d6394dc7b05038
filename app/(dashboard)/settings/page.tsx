import Link from 'next/link';
import { Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { env } from '@/lib/env';
import { listAllowlistEntries } from '@/lib/outbound/allowlist-store';
import { listUsers } from '@/lib/users/queries';
import { AllowlistPanel } from './_components/allowlist-panel';
import { UsersPanel } from './_components/users-panel';
import { SsoPanel } from './_components/sso-panel';
import { getSsoSettings } from '@/lib/settings/sso';
import { vaultStatus } from '@/lib/credentials/vault';

export default async function SettingsPage() {
  const { actor } = await requirePageUser('settings:manage');
  const [users, allowlist, sso] = await Promise.all([listUsers(actor), listAllowlistEntries(actor), getSsoSettings(actor)]);
  // Which key seals new secrets, and from where: for admins here, not on the public /api/health.
  const vault = vaultStatus();
  const envEntries = env()
    .REGISTRAR_OUTBOUND_ALLOWLIST.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (
    <>
      <PageHeader
        title="Settings"
        description="Users and roles, single sign-on, and which private or plain-http hosts Registrar may call."
        actions={
          <nav aria-label="More settings" className="flex gap-3 text-sm">
            <Link href="/settings/api-tokens" className="underline">
              API tokens
            </Link>
            <Link href="/settings/notifications" className="underline">
              Notifications
            </Link>
            <Link href="/api-docs" className="underline">
              API reference
            </Link>
          </nav>
        }
      />
      <div className="space-y-6">
        <Card title="Users">
          <UsersPanel
            currentUserId={actor.id}
            users={users.map((u) => ({ id: u.id, email: u.email, name: u.name, role: u.role, isActive: u.isActive, lastSignInAt: u.lastSignInAt?.toISOString() ?? null }))}
          />
        </Card>
        <Card title="Single sign-on">
          <SsoPanel configured={sso.configured} issuer={sso.issuer} domains={sso.domains} envDomains={sso.envDomains} />
        </Card>
        <Card title="Encryption key">
          <p className={`text-sm ${vault.status === 'ok' ? 'text-slate-700' : 'font-medium text-red-700'}`} data-testid="vault-status">
            {vault.status === 'ok' ? vault.message : `The vault is locked: ${vault.message}`}
          </p>
          <p className="mt-1 text-xs text-slate-500">
            Rotate it with <code>npm run keys:rotate</code>; it re-wraps every stored secret and can be resumed.
          </p>
        </Card>
        <Card title="Outbound allowlist">
          <AllowlistPanel entries={allowlist.map((e) => ({ id: e.id, entry: e.entry, note: e.note }))} envEntries={envEntries} />
        </Card>
      </div>
    </>
  );
}
