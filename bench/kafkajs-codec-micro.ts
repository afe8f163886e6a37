/**
 * Micro-benchmark of the kafkajs patches' hot paths, installed (patched) against kafkajs 2.2.4's own text of the
 * patched files (scripts/kafkajs-patches/, evaluated beside the installed files), alternating in one process:
 * `npx tsx bench/kafkajs-codec-micro.ts [records] [rounds]` (default 1000 300).
 * - produce: one produce request (v3, as sent as v3–v7) of `records` signal-like messages (key `C<n>`, Avro-sized
 *   Buffer value, no headers) over 3 partitions, encoded `rounds` times;
 * - fetch: one record batch of `records` input-like records (key, 90-byte value, timestamps a few ms apart) decoded
 *   `rounds` times by the record-batch decoder (which calls the record decoder).
 * Prints CPU µs and GC µs per record for each, three alternations each way. Figures only (no pass/fail).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { PATCHES } from '../scripts/kafkajs-patches/index.mjs';

const records = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 300);
const require = createRequire(path.join(process.cwd(), 'packages/kafka/src/client.ts'));
const root = path.dirname(require.resolve('kafkajs/package.json'));
const originalOf = (file: string, overrides: Record<string, unknown> = {}): unknown => {
  const text = PATCHES.find((p) => p.FILE === file)?.ORIGINAL ?? readFileSync(path.join(root, file), 'utf8');
  const requireHere = createRequire(path.join(root, file));
  const module = { exports: {} as unknown };
  new Function('require', 'module', 'exports', text)(
    (id: string) => (id in overrides ? overrides[id] : requireHere(id)),
    module,
    module.exports,
  );
  return module.exports;
};
type Encode = (a: Record<string, unknown>) => { encode(): Promise<{ buffer: Buffer }> };
type Decode = (d: unknown) => Promise<{ records: unknown[] }>;
const PRODUCE = 'src/protocol/requests/produce/v3/request.js';
const BATCH_DECODER = 'src/protocol/recordBatch/v0/decoder.js';
const RECORD_DECODER = 'src/protocol/recordBatch/record/v0/decoder.js';
const produce = { patched: require(`kafkajs/${PRODUCE}`) as Encode, original: originalOf(PRODUCE) as Encode };
const decode = {
  patched: require(`kafkajs/${BATCH_DECODER}`) as Decode,
  original: originalOf(BATCH_DECODER, { '../record/v0/decoder': originalOf(RECORD_DECODER) }) as Decode,
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (a: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (a: Record<string, unknown>) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): unknown };

const perPartition = Math.floor(records / 3);
const topicData = [
  {
    topic: 'tierstream.signals',
    partitions: [0, 1, 2].map((p) => ({
      partition: p,
      firstSequence: 0,
      messages: Array.from({ length: perPartition }, (_, i) => ({
        key: `C${(i * 7919 + p) % 100_000}`,
        value: Buffer.alloc(48 + (i % 20), i),
      })),
    })),
  },
];
const t0 = 1_764_500_000_000;
const fetched = (
  await RecordBatch({
    records: Array.from({ length: records }, (_, i) =>
      Record({
        offsetDelta: i,
        timestampDelta: i * 3,
        key: Buffer.from(`C${(i * 7919) % 100_000}`),
        value: Buffer.alloc(90, i),
      }),
    ),
    firstOffset: Long.fromValue(123_456_789),
    firstTimestamp: t0,
    maxTimestamp: t0 + records * 3,
    lastOffsetDelta: records - 1,
  })
).buffer;

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
const run = async (label: string, once: () => Promise<unknown>, n: number) => {
  for (let r = 0; r < 30; r++) await once();
  await new Promise((r) => setTimeout(r, 20));
  gcMs = 0;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) await once();
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 20));
  const per = rounds * n;
  console.log(
    `${label}: cpu ${((cpu.user + cpu.system) / per).toFixed(3)} µs/record, GC ${((gcMs * 1000) / per).toFixed(3)} µs/record`,
  );
};
const args = { acks: -1, timeout: 30_000, compression: 0, topicData, producerId: 1 };
for (let i = 0; i < 3; i++)
  for (const which of ['original', 'patched'] as const) {
    await run(`produce ${which}`, () => produce[which](args).encode(), perPartition * 3);
    await run(`fetch   ${which}`, () => decode[which](new Decoder(fetched)), records);
  }
