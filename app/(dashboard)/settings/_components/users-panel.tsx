'use client';

import { utcMinute } from '@/lib/format-time';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Badge } from '@/components/ui/card';
import { SelectField, TextField } from '@/components/ui/field';
import { changeUserRoleAction, createUserAction, resetUserPasswordAction, setUserActiveAction } from '../actions';

type Role = 'admin' | 'ops' | 'manager' | 'support';
type UserRow = { id: string; email: string; name: string | null; role: Role; isActive: boolean; lastSignInAt: string | null };
const ROLES: Role[] = ['admin', 'ops', 'manager', 'support'];

/** A person's API tokens end with their access (lib/api/tokens revokeTokensBeyondCreator): say which did. */
function revokedNote(names: string[]): string {
  return names.length ? ` API tokens they created that can do more than they now may were revoked: ${names.map((n) => `“${n}”`).join(', ')}.` : '';
}

export function UsersPanel({ users, currentUserId }: { users: UserRow[]; currentUserId: string }) {
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<{ tone: 'error' | 'success'; text: string } | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  // A generated password is shown once, in this component's memory only, and dropped on the next action.
  const [oneTimePassword, setOneTimePassword] = useState<{ email: string; password: string } | null>(null);

  const [resetKey, setResetKey] = useState(0);

  function run<T>(fn: () => Promise<{ ok: true; data: T } | { ok: false; error: { message: string }; fieldErrors?: Record<string, string[]> }>, onOk: (data: T) => void) {
    setOneTimePassword(null);
    startTransition(async () => {
      const result = await fn();
      if (result.ok) {
        setFieldErrors({});
        onOk(result.data);
      } else {
        setMessage({ tone: 'error', text: result.error.message });
        setFieldErrors(result.fieldErrors ?? {});
        // Uncontrolled role selects show what was chosen: remount them so they show the roles users still have.
        setResetKey((k) => k + 1);
      }
    });
  }

  return (
    <div className="space-y-6">
      <form
        aria-label="Create user"
        className="grid grid-cols-1 items-end gap-3 md:grid-cols-4"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const formEl = event.currentTarget;
          const input = { email: String(form.get('email') ?? ''), name: String(form.get('name') ?? ''), role: String(form.get('role') ?? '') };
          run(
            () => createUserAction(input),
            (data) => {
              formEl.reset();
              setMessage({ tone: 'success', text: `Created ${data.email}.` });
              setOneTimePassword({ email: data.email, password: data.password });
            },
          );
        }}
      >
        <TextField label="Email" name="email" type="email" required errors={fieldErrors.email} />
        <TextField label="Name" name="name" errors={fieldErrors.name} />
        <SelectField label="Role" name="role" defaultValue="support" errors={fieldErrors.role}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </SelectField>
        <Button type="submit" disabled={pending}>
          Create user
        </Button>
      </form>
      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}
      {oneTimePassword ? (
        <Alert tone="warning">
          Password for {oneTimePassword.email} (shown once, hand it over securely):{' '}
          <code data-testid="one-time-password" className="font-mono">
            {oneTimePassword.password}
          </code>
        </Alert>
      ) : null}
      <table className="min-w-full text-sm">
        <thead className="text-left text-xs uppercase text-slate-500">
          <tr>
            <th className="py-2">User</th>
            <th className="py-2">Role</th>
            <th className="py-2">State</th>
            <th className="py-2">Last sign-in</th>
            <th className="py-2">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {users.map((user) => (
            <tr key={user.id} data-testid={`user-row-${user.email}`}>
              <td className="py-2">
                {user.email}
                {user.name ? <span className="text-slate-500"> · {user.name}</span> : null}
              </td>
              <td className="py-2">
                <label className="sr-only" htmlFor={`role-${user.id}`}>
                  Role of {user.email}
                </label>
                <select
                  key={resetKey}
                  id={`role-${user.id}`}
                  defaultValue={user.role}
                  disabled={pending || user.id === currentUserId}
                  className="rounded border border-slate-300 px-2 py-1"
                  onChange={(event) => {
                    const role = event.target.value as Role;
                    run(
                      () => changeUserRoleAction({ userId: user.id, role }),
                      (data) => setMessage({ tone: 'success', text: `${user.email} is now ${role}.${revokedNote(data.revokedApiTokens)}` }),
                    );
                  }}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </td>
              <td className="py-2">{user.isActive ? <Badge tone="good">active</Badge> : <Badge tone="bad">deactivated</Badge>}</td>
              <td className="py-2 text-slate-500">{utcMinute(user.lastSignInAt, 'never')}</td>
              <td className="space-x-2 py-2 text-right">
                {user.id !== currentUserId ? (
                  <>
                    <Button
                      variant="secondary"
                      disabled={pending}
                      onClick={() =>
                        run(
                          () => resetUserPasswordAction({ userId: user.id }),
                          (data) => setOneTimePassword({ email: user.email, password: data.password }),
                        )
                      }
                    >
                      Reset password
                    </Button>
                    <Button
                      variant={user.isActive ? 'danger' : 'secondary'}
                      disabled={pending}
                      onClick={() =>
                        run(
                          () => setUserActiveAction({ userId: user.id, active: !user.isActive }),
                          (data) => setMessage({ tone: 'success', text: `${user.email} ${user.isActive ? 'deactivated' : 'reactivated'}.${revokedNote(data.revokedApiTokens)}` }),
                        )
                      }
                    >
                      {user.isActive ? `Deactivate` : `Reactivate`}
                      <span className="sr-only"> {user.email}</span>
                    </Button>
                  </>
                ) : (
                  <span className="text-xs text-slate-500">you</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
