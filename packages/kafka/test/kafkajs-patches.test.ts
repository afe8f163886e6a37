import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PATCHES } from '../../../scripts/kafkajs-patches/index.mjs';

// kafkajs as installed (patched by scripts/patch-kafkajs.mjs after npm install) against kafkajs 2.2.4's own text of
// the patched files (each patch's ORIGINAL, evaluated beside the installed file so its relative requires resolve to
// the same unpatched modules).
const require = createRequire(import.meta.url);
const root = path.dirname(require.resolve('kafkajs/package.json'));
const patchOf = (file: string) => PATCHES.find((p) => p.FILE === file)!;

/** Evaluates CommonJS `text` as if it were the kafkajs file `file`; `overrides` replace some of its requires. */
function evaluate(file: string, text: string, overrides: Record<string, unknown> = {}): unknown {
  const requireHere = createRequire(path.join(root, file));
  const module = { exports: {} as unknown };
  const requireWith = (id: string) => (id in overrides ? overrides[id] : requireHere(id));
  new Function('require', 'module', 'exports', text)(requireWith, module, module.exports);
  return module.exports;
}

const PRODUCE = 'src/protocol/requests/produce/v3/request.js';
const RECORD_DECODER = 'src/protocol/recordBatch/record/v0/decoder.js';
type ProduceRequest = (args: Record<string, unknown>) => { encode(): Promise<{ buffer: Buffer }> };
const installedProduce = require(`kafkajs/${PRODUCE}`) as ProduceRequest;
const originalProduce = evaluate(PRODUCE, patchOf(PRODUCE).ORIGINAL) as ProduceRequest;
type BatchDecoder = (decoder: unknown) => Promise<{ records: Array<Record<string, unknown>> }>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const installedBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder') as BatchDecoder;
const batchDecoderText = readFileSync(path.join(root, 'src/protocol/recordBatch/v0/decoder.js'), 'utf8');
const originalBatchDecoder = evaluate('src/protocol/recordBatch/v0/decoder.js', batchDecoderText, {
  '../record/v0/decoder': evaluate(RECORD_DECODER, patchOf(RECORD_DECODER).ORIGINAL),
}) as BatchDecoder;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (args: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: Record<string, unknown>) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): unknown };

/** A small deterministic generator (LCG): the same cases on every run. */
function randomness(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('kafkajs patches (scripts/patch-kafkajs.mjs)', () => {
  it('every patch is installed: the kafkajs file has the patched text', () => {
    for (const { FILE, ORIGINAL, PATCHED } of PATCHES) {
      const text = readFileSync(path.join(root, FILE), 'utf8');
      expect(PATCHED).not.toBe(ORIGINAL);
      expect(text === PATCHED, `${FILE} is not patched (run npm install or node scripts/patch-kafkajs.mjs)`).toBe(true);
    }
  });

  it("produce v3 request: the same bytes as kafkajs 2.2.4's encoding on random batches, plain or not", async () => {
    const r = randomness(20261130);
    const now = 1_764_500_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const key = () =>
      r.pick([
        null,
        undefined,
        '',
        `C${r.int(1e6)}`,
        'ké€😀'.repeat(r.int(40)),
        Buffer.alloc(r.int(300), r.int(256)),
        Buffer.alloc(0),
      ]);
    const value = () =>
      r.pick([null, 'v', '€'.repeat(r.int(200)), Buffer.alloc(r.int(3000), r.int(256)), Buffer.from([1, 2, 3])]);
    const timestamp = () =>
      r.pick([undefined, undefined, undefined, String(now - r.int(1e10)), now + r.int(1e6), String(now + 1e4), 0, '1']);
    // One partition in three has one message that is not plain in one way (2.2.4's path for the partition, or its error).
    const oddities: Array<(m: Record<string, unknown>) => Record<string, unknown>> = [
      (m) => ({ ...m, headers: { a: 'b', c: ['d', 'e'] } }),
      (m) => ({ ...m, headers: {} }), // empty headers: still plain
      (m) => ({ ...m, headers: null }), // 2.2.4 throws
      (m) => ({ ...m, key: 12345 }), // not a string or a Buffer: 2.2.4 throws
      ({ key: _, ...m }) => Object.assign(Object.create({ key: 'inherited: not sent' }), m),
      (m) => ({ ...m, timestamp: now + 2 ** 52 + r.int(100) }), // a delta of 2^52 or more
      (m) => ({ ...m, timestamp: 'not a number' }), // a NaN delta
    ];
    const Encoder = require('kafkajs/src/protocol/encoder') as { prototype: { writeVarInt: (v: number) => unknown } };
    const generalPath = vi.spyOn(Encoder.prototype, 'writeVarInt');
    let plain = 0;
    for (let t = 0; t < 400; t++) {
      const messages = () => {
        const list = Array.from({ length: r.int(t < 20 ? 3 : 60) }, () => {
          const m: Record<string, unknown> = { key: key(), value: value() };
          const ts = timestamp();
          if (ts !== undefined) m.timestamp = ts;
          return m;
        });
        if (list.length > 0 && r.next() < 1 / 3) {
          const at = r.int(list.length);
          list[at] = r.pick(oddities)(list[at]!);
        }
        return list;
      };
      const topicData = Array.from({ length: 1 + r.int(2) }, (_, i) => ({
        topic: `topic-${i}`,
        partitions: Array.from({ length: 1 + r.int(3) }, (_, p) => ({
          partition: p,
          firstSequence: r.pick([undefined, 0, 17]),
          messages: messages(),
        })),
      }));
      const args = {
        acks: r.pick([-1, 1]),
        timeout: 30_000,
        compression: r.next() < 0.1 ? 1 : 0,
        topicData,
        transactionalId: r.pick([undefined, null, 'tx-1']),
        producerId: r.pick([undefined, 1, Long.fromValue(99), '12345678901']),
        producerEpoch: r.pick([undefined, 0, 3]),
      };
      const expected = await originalProduce(args)
        .encode()
        .then((e) => ({ bytes: e.buffer.toString('hex') }))
        .catch((e: Error) => ({ error: `${e.name}: ${e.message}` }));
      generalPath.mockClear();
      const actual = await installedProduce(args)
        .encode()
        .then((e) => ({ bytes: e.buffer.toString('hex') }))
        .catch((e: Error) => ({ error: `${e.name}: ${e.message}` }));
      expect(actual, `case ${t}`).toEqual(expected);
      if (generalPath.mock.calls.length === 0 && topicData.some((d) => d.partitions.some((p) => p.messages.length))) {
        plain++;
      }
    }
    // Both paths were taken: every record of a case written in place, or some through 2.2.4's Encoder.
    expect(plain).toBeGreaterThan(100);
    expect(plain).toBeLessThan(350);
  });

  it("produce v3 request: a thousand plain records take 2.2.4's bytes without an Encoder per record", async () => {
    const now = 1_764_500_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const messages = Array.from({ length: 1000 }, (_, i) => ({ key: `C${i}`, value: Buffer.alloc(60, i) }));
    const args = {
      acks: -1,
      timeout: 30_000,
      compression: 0,
      topicData: [{ topic: 's', partitions: [{ partition: 2, messages }] }],
    };
    const expected = (await originalProduce(args).encode()).buffer;
    const Encoder = require('kafkajs/src/protocol/encoder') as { prototype: { writeVarInt: (v: number) => unknown } };
    const writeVarInt = vi.spyOn(Encoder.prototype, 'writeVarInt');
    const actual = (await installedProduce(args).encode()).buffer;
    expect(actual.equals(expected)).toBe(true);
    expect(writeVarInt).not.toHaveBeenCalled(); // 2.2.4 writes ≥ 4 varints per record through an Encoder
  });

  it("produce v3 request: 2.2.4's bytes for long varints (values of 1 MiB and more, 9,000 records) and odd inputs", async () => {
    const now = 1_764_500_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const cases: Array<Array<Record<string, unknown>>> = [
      // lengths and body sizes of 3 and 4 varint bytes (2.2.4's random cases stay below 2^13)
      [8191, 8192, 2 ** 20 - 1, 2 ** 20, 2 ** 20 + 1].map((n, i) => ({ key: `k${i}`, value: Buffer.alloc(n, i) })),
      [{ key: 'é😀'.repeat(3000), value: '€'.repeat(400_000) }],
      // offset deltas of 3 varint bytes (from 8,192 on)
      Array.from({ length: 9_000 }, (_, i) => ({ key: i % 3 ? `C${i}` : null, value: i % 5 ? 'v' : '' })),
      // lone surrogates and NUL, a Buffer view into a larger buffer
      [
        { key: '\ud800x', value: '\udfff\u0000' },
        { key: Buffer.from('0123456789').subarray(3, 6), value: null },
      ],
      // timestamps: numbers and strings sorted as strings (the first is not the least), negative, a Date
      [
        { value: 'a', timestamp: 999 },
        { value: 'b', timestamp: '1000' },
        { value: 'c', timestamp: -5_000 },
        { value: 'd', timestamp: new Date(now - 7) },
        { value: 'e' },
      ],
    ];
    for (const [i, messages] of cases.entries()) {
      const args = {
        acks: -1,
        timeout: 30_000,
        topicData: [{ topic: 't', partitions: [{ partition: 1, firstSequence: 5, messages }] }],
        transactionalId: 'tx',
        producerId: Long.fromValue('9223372036854775807'),
        producerEpoch: 32_767,
      };
      const expected = (await originalProduce(args).encode()).buffer;
      const Encoder = require('kafkajs/src/protocol/encoder') as { prototype: { writeVarInt: (v: number) => unknown } };
      const writeVarInt = vi.spyOn(Encoder.prototype, 'writeVarInt');
      const actual = (await installedProduce(args).encode()).buffer;
      expect(writeVarInt, `case ${i}: written in place`).not.toHaveBeenCalled();
      writeVarInt.mockRestore();
      expect(actual.equals(expected), `case ${i}`).toBe(true);
    }
  });

  it("record decoder: the same records as kafkajs 2.2.4's decoding on random batches (offsets and timestamps of any size)", async () => {
    const r = randomness(7);
    for (let t = 0; t < 300; t++) {
      const firstTimestamp = r.pick([1_764_500_000_000, -1, 0, '9007199254740993', 2 ** 53 - 5]);
      const records = Array.from({ length: r.int(40) }, (_, i) =>
        Record({
          offsetDelta: r.pick([i, i, 2 ** 31 - 1 - i]),
          timestampDelta: r.pick([
            r.int(1000),
            -r.int(1000),
            r.int(2 ** 30) * 2 ** 18, // 7 and 8 varint bytes
            -(2 ** 48),
            2 ** 48 - 1,
            '-4503599627370497', // 8 varint bytes, not a double
            '36028797018963971',
            '9223372036854775000', // 10 bytes
          ]),
          key: r.pick([null, Buffer.from(`C${i}`), Buffer.alloc(0)]),
          value: r.pick([null, Buffer.alloc(r.int(200), 9)]),
          headers: r.pick([{}, {}, { a: 'b' }, { a: ['b', 'c'], d: 'e' }]),
        }),
      );
      const batch = await RecordBatch({
        records,
        firstOffset: Long.fromValue(r.pick([0, 123_456_789, '9007199254740990', '9223372036854775000'])),
        firstTimestamp,
        maxTimestamp: 1_764_500_000_999,
        lastOffsetDelta: records.length - 1,
        compression: 0,
      });
      // Attributes: LOG_APPEND_TIME (bit 3) and control (bit 5) now and then.
      const bytes = Buffer.from(batch.buffer);
      bytes.writeInt16BE(r.pick([0, 0, 8, 32]), 8 + 4 + 4 + 1 + 4);
      const expected = await originalBatchDecoder(new Decoder(bytes));
      const actual = await installedBatchDecoder(new Decoder(bytes));
      expect(actual, `case ${t}`).toEqual(expected);
    }
  });

  it("record decoder: kafkajs 2.2.4's results and errors for first offsets and timestamps that are not canonical", async () => {
    type RecordDecoder = (decoder: unknown, context: Record<string, unknown>) => Record<string, unknown>;
    const installed = require(`kafkajs/${RECORD_DECODER}`) as RecordDecoder;
    const original = evaluate(RECORD_DECODER, patchOf(RECORD_DECODER).ORIGINAL) as RecordDecoder;
    const record = Record({ offsetDelta: 3, timestampDelta: -5, key: null, value: Buffer.from('v') });
    const bytes = (record as { buffer: Buffer }).buffer;
    const odd = ['1e3', '7.0', '0x10', ' 7', '-0', '', 'NaN', 7, 2 ** 60, undefined, '9007199254740993', '12'];
    for (const firstOffset of odd) {
      for (const firstTimestamp of odd) {
        const context = { firstOffset, firstTimestamp, magicByte: 2 };
        const run = (decode: RecordDecoder) => {
          const decoder = new Decoder(bytes.subarray(1)) as { offset: number }; // past the record's length varint
          try {
            return { record: decode(decoder, context), at: decoder.offset };
          } catch (e) {
            return { error: `${(e as Error).name}: ${(e as Error).message}` };
          }
        };
        expect(run(installed), `${firstOffset} ${firstTimestamp}`).toEqual(run(original));
      }
    }
  });
});
