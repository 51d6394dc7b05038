import { Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { env } from '@/lib/env';
import { listAllowlistEntries } from '@/lib/outbound/allowlist-store';
import { listUsers } from '@/lib/users/queries';
import { AllowlistPanel } from './_components/allowlist-panel';
import { UsersPanel } from './_components/users-panel';

export default async function SettingsPage() {
  const { actor } = await requirePageUser('settings:manage');
  const [users, allowlist] = await Promise.all([listUsers(actor), listAllowlistEntries(actor)]);
  const envEntries = env()
    .REGISTRAR_OUTBOUND_ALLOWLIST.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (
    <>
      <PageHeader title="Settings" description="Users and roles, and which private or plain-http hosts Registrar may call." />
      <div className="space-y-6">
        <Card title="Users">
          <UsersPanel
            currentUserId={actor.id}
            users={users.map((u) => ({ id: u.id, email: u.email, name: u.name, role: u.role, isActive: u.isActive, lastSignInAt: u.lastSignInAt?.toISOString() ?? null }))}
          />
        </Card>
        <Card title="Outbound allowlist">
          <AllowlistPanel entries={allowlist.map((e) => ({ id: e.id, entry: e.entry, note: e.note }))} envEntries={envEntries} />
        </Card>
      </div>
    </>
  );
}
