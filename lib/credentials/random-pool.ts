import 'server-only';
import { randomFillSync } from 'node:crypto';

/**
 * Fresh random bytes for the vault's data keys and IVs, drawn from a pool that one call to the
 * CSPRNG fills: sealing one secret needs three draws (data key, value IV, wrap IV), and each
 * `randomBytes` call is a native job of its own (~8–13 µs here, far more than the bytes cost),
 * which made randomness the largest single cost of storing a rotation's answers. Node's own
 * `randomUUID` draws from a pool the same way.
 *
 * Every byte is handed out once: the caller gets a copy, and the pool's bytes are zeroed as they
 * are taken, so no key material stays in the pool after its use. Large requests skip the pool.
 */
const POOL_BYTES = 8 * 1024;
const LARGEST_POOLED = 256;

const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES; // empty: filled on first use

export function freshRandomBytes(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`freshRandomBytes: invalid length ${length}`);
  if (length > LARGEST_POOLED) return randomFillSync(Buffer.alloc(length));
  if (offset + length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  // Memory of its own (not Node's shared slab for small buffers), so zeroing it after use is enough.
  const bytes = Buffer.alloc(length);
  pool.copy(bytes, 0, offset, offset + length);
  pool.fill(0, offset, offset + length);
  offset += length;
  return bytes;
}
