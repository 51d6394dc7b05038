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

export default async function SettingsPage() {
  const { actor } = await requirePageUser('settings:manage');
  const [users, allowlist, sso] = await Promise.all([listUsers(actor), listAllowlistEntries(actor), getSsoSettings(actor)]);
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
        <Card title="Outbound allowlist">
          <AllowlistPanel entries={allowlist.map((e) => ({ id: e.id, entry: e.entry, note: e.note }))} envEntries={envEntries} />
        </Card>
      </div>
    </>
  );
}
