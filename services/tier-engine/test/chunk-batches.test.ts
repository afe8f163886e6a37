import type { OutgoingRecord } from '@tierstream/kafka';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkBatches } from '../src/rows';

describe('chunkBatches', () => {
  it('keeps every record once, in order per topic, and no chunk over the limit unless one record alone is', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            topic: fc.constantFrom('a', 'b', 'c'),
            sizes: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 40 }),
          }),
          { maxLength: 4 },
        ),
        fc.integer({ min: 1, max: 500 }),
        (spec, maxBytes) => {
          let n = 0;
          const batches = spec.map((s) => ({
            topic: s.topic,
            records: s.sizes.map((size) => ({ key: String(n++), value: Buffer.alloc(size) })),
          }));
          const chunks = chunkBatches(batches, maxBytes);
          const flat = (bs: Array<{ topic: string; records: OutgoingRecord[] }>) =>
            bs.flatMap((b) => b.records.map((r) => `${b.topic}:${r.key}`));
          expect(chunks.flatMap((c) => flat(c))).toEqual(flat(batches));
          for (const c of chunks) {
            const records = c.flatMap((b) => b.records);
            const bytes = records.reduce((sum, r) => sum + r.value.length, 0);
            if (records.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
            expect(records.length).toBeGreaterThan(0);
          }
        },
      ),
    );
  });
});
