import { describe, expect, it } from 'vitest';
import { withEnv } from '@/test/support/env';
import { outboundPolicyFrom } from './policy';

describe('outboundPolicyFrom', () => {
  it('reuses the policy built from the same entries, and builds anew when the stored list or the environment changes', async () => {
    await withEnv({ REGISTRAR_OUTBOUND_ALLOWLIST: 'http://127.0.0.1:9000' }, () => {
      const first = outboundPolicyFrom(['10.0.0.0/8']);
      expect(outboundPolicyFrom(['10.0.0.0/8'])).toBe(first);
      expect(first.allowlist).toHaveLength(2);
      expect(Object.isFrozen(first.allowlist)).toBe(true);

      const added = outboundPolicyFrom(['10.0.0.0/8', 'hospital.internal']);
      expect(added).not.toBe(first);
      expect(added.allowlist).toHaveLength(3);
      expect(outboundPolicyFrom([]).allowlist).toHaveLength(1);
    });
    await withEnv({ REGISTRAR_OUTBOUND_ALLOWLIST: '' }, () => {
      expect(outboundPolicyFrom(['10.0.0.0/8']).allowlist).toHaveLength(1);
    });
  });
});
