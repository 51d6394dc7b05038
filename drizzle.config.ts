import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
  // Only `generate` is used; migrations are applied by db/migrate.ts.
  dbCredentials: { url: 'postgres://localhost/unused' },
});
