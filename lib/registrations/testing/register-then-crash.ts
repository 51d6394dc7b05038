/**
 * Test-only child process (lib/registrations/reconcile.test.ts): runs registerApp for real and
 * kills itself with SIGKILL from the `afterResponse` hook, i.e. after the hospital answered and
 * before anything of the answer is committed. Nothing is mocked: the real database, the real
 * outbound transport and a real registration endpoint.
 *
 *   npx tsx --conditions=react-server lib/registrations/testing/register-then-crash.ts '<json>'
 *   json: { actor, input }   (the parent passes DATABASE_URL and REGISTRAR_KEY in the environment)
 */
import type { Actor } from '@/lib/auth/actor';
import { registerApp } from '@/lib/registrations/register';
import type { RegisterInput } from '@/lib/registrations/schemas';

const { actor, input } = JSON.parse(process.argv[2] ?? '{}') as { actor: Actor; input: RegisterInput };

await registerApp(actor, input, {
  afterResponse: ({ operationId, clientId }) =>
    new Promise<never>(() => {
      process.stdout.write(`${JSON.stringify({ event: 'afterResponse', operationId, clientId })}\n`, () => process.kill(process.pid, 'SIGKILL'));
    }),
});
// Unreachable when the hook ran: the process is dead before the answer is stored.
process.stdout.write(`${JSON.stringify({ event: 'stored' })}\n`);
process.exit(0);
