import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from './embedded';

const root = mkdtempSync(path.join(tmpdir(), 'registrar-embedded-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('startEmbeddedPostgres', () => {
  it('a cluster that cannot start says what PostgreSQL reported, not only "is the port taken"', async () => {
    // A data directory that claims a cluster (PG_VERSION) but holds nothing else: PostgreSQL refuses it.
    const dataDir = path.join(root, 'broken');
    mkdirSync(path.join(dataDir, 'postgres'), { recursive: true });
    writeFileSync(path.join(dataDir, 'postgres', 'PG_VERSION'), '17\n');
    const error = await startEmbeddedPostgres({ dataDir, port: 54397, database: 'postgres' }).then(
      () => new Error('it started'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain('did not start on 127.0.0.1:54397');
    expect(error.message).toMatch(/PostgreSQL said: .*(FATAL|could not)/);
  }, 60_000);
});
