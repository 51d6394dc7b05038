/**
 * Runs once per server instance at start-up (Node.js runtime only): starts the job queue and,
 * on an installation without users, prints a one-time set-up link for the first admin.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { startServer } = await import('./lib/server-start');
  await startServer();
}
