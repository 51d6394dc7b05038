import { requirePageUser } from '@/lib/auth/page-guard';
import { can, type Permission } from '@/lib/auth/permissions';
import { NavLinks } from './_components/nav-links';
import { SignOutButton } from './_components/sign-out-button';

const NAV: Array<{ href: string; label: string; permission: Permission | null }> = [
  { href: '/', label: 'Overview', permission: null },
  { href: '/health-systems', label: 'Health systems', permission: 'health-systems:read' },
  { href: '/registrations', label: 'Registrations', permission: 'registrations:read' },
  { href: '/apps', label: 'Apps', permission: 'registrations:read' },
  { href: '/diagnose', label: 'Diagnose', permission: 'diagnostics:run' },
  { href: '/audit', label: 'Audit', permission: 'audit:read' },
  { href: '/settings', label: 'Settings', permission: 'settings:manage' },
];

export default async function DashboardLayout({ children }: { children: React.ReactNode }) {
  const { actor, name } = await requirePageUser();
  const links = NAV.filter((item) => item.permission === null || can(actor.role, item.permission)).map(({ href, label }) => ({ href, label }));
  return (
    <div className="flex min-h-screen">
      <aside className="w-56 shrink-0 border-r border-slate-200 bg-white">
        <div className="px-5 py-5 text-lg font-semibold tracking-tight">Registrar</div>
        <nav aria-label="Main">
          <NavLinks links={links} />
        </nav>
      </aside>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center justify-end gap-4 border-b border-slate-200 bg-white px-6 py-3 text-sm">
          <span data-testid="current-user">
            {name ?? actor.email} · <span className="font-medium">{actor.role}</span>
          </span>
          <SignOutButton />
        </header>
        <main className="flex-1 px-8 py-6">{children}</main>
      </div>
    </div>
  );
}
