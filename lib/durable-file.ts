import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `content` to a new temporary file beside `target` (mode `mode`) and fsyncs it; the caller
 * moves it into place (rename, or link to refuse an existing target), then fsyncs the directory.
 * Readers never see a half-written file under the target's name, and a crash leaves at most a
 * stray `.tmp` file.
 */
export function writeTemp(target: string, content: string, mode: number): string {
  const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, content);
    fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return tmp;
}

/** Makes a rename or link in `dir` durable. */
export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not every platform lets a directory be fsynced; the rename itself is still atomic.
  }
}

/** A new file with `content`, complete and on disk before it appears under its name; refuses an existing one. */
export function createFileDurably(target: string, content: string, mode: number): void {
  const tmp = writeTemp(target, content, mode);
  try {
    fs.linkSync(tmp, target);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  fsyncDir(path.dirname(target));
}
