import { createMetrics } from '@tierstream/observability';
import type { RoutedRow, WarehouseWriter } from '@tierstream/warehouse';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/group-commit';

/** A writer that records what it is asked to insert. */
function recordingWriter() {
  const inserted: RoutedRow[][] = [];
  const writer = {
    insertRouted: async (rows: readonly RoutedRow[]) => {
      inserted.push([...rows]);
    },
  } as unknown as WarehouseWriter;
  return { writer, inserted };
}

const row = (table: RoutedRow['table']) => ({ table, row: {} }) as RoutedRow;

async function gauge(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const m = await metrics.bufferedRows.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.table), v.value]));
}

describe('GroupCommit: tierstream_buffered_rows per table', () => {
  it('counts the buffered rows of each table, and drops them to 0 when they are flushed', async () => {
    const metrics = createMetrics('warehouse-writer-test');
    const { writer, inserted } = recordingWriter();
    const commit = new GroupCommit(writer, { maxRows: 5, maxAgeMs: 60_000 }, metrics);
    const first = commit.add([row('tier_history'), row('tier_history'), row('tier_current')]);
    expect(await gauge(metrics)).toEqual({ tier_history: 2, tier_current: 1 });
    const second = commit.add([row('metric_history'), row('tier_current')]); // 5 rows: flushes
    await Promise.all([first, second]);
    expect(inserted.flat()).toHaveLength(5);
    expect(await gauge(metrics)).toEqual({ tier_history: 0, tier_current: 0, metric_history: 0 });
  });
});
