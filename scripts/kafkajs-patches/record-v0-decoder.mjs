// kafkajs 2.2.4 decodes every fetched record's offset and timestamp through Long (BigInt): the batch's first offset and
// first timestamp parsed from their strings for every record, the varlong delta built byte by byte in BigInts, the
// sum printed back (≈ 0.3 µs per record, 5.6 % of the aggregator's busy time). This decodes the usual record with
// numbers (a delta of at most 7 varint bytes, first offset and timestamp canonical decimal strings of safe integers,
// the two strings parsed once per batch, no headers): the same strings and objects; everything else takes 2.2.4's own
// code. packages/kafka/test/kafkajs-patches.test.ts compares with 2.2.4's code (ORIGINAL below) on random batches.
// No kafkajs pull request does this (kafkajs #663 moved Long onto BigInt; it kept the per-record parse): drop this
// patch with kafkajs, or when a release decodes offsets without Long.
import { replaceEachOnce } from './lib.mjs';

export const FILE = 'src/protocol/recordBatch/record/v0/decoder.js';

export const ORIGINAL = `const Long = require('../../../../utils/long')
const HeaderDecoder = require('../../header/v0/decoder')
const TimestampTypes = require('../../../timestampTypes')

/**
 * v0
 * Record =>
 *   Length => Varint
 *   Attributes => Int8
 *   TimestampDelta => Varlong
 *   OffsetDelta => Varint
 *   Key => varInt|Bytes
 *   Value => varInt|Bytes
 *   Headers => [HeaderKey HeaderValue]
 *     HeaderKey => VarInt|String
 *     HeaderValue => VarInt|Bytes
 */

module.exports = (decoder, batchContext = {}) => {
  const {
    firstOffset,
    firstTimestamp,
    magicByte,
    isControlBatch = false,
    timestampType,
    maxTimestamp,
  } = batchContext
  const attributes = decoder.readInt8()

  const timestampDelta = decoder.readVarLong()
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : Long.fromValue(firstTimestamp)
          .add(timestampDelta)
          .toString()

  const offsetDelta = decoder.readVarInt()
  const offset = Long.fromValue(firstOffset)
    .add(offsetDelta)
    .toString()

  const key = decoder.readVarIntBytes()
  const value = decoder.readVarIntBytes()
  const headers = decoder.readVarIntArray(HeaderDecoder).reduce(
    (obj, { key, value }) => ({
      ...obj,
      [key]:
        obj[key] === undefined
          ? value
          : Array.isArray(obj[key])
          ? obj[key].concat([value])
          : [obj[key], value],
    }),
    {}
  )

  return {
    magicByte,
    attributes, // Record level attributes are presently unused
    timestamp,
    offset,
    key,
    value,
    headers,
    isControlRecord: isControlBatch,
    batchContext,
  }
}
`;

export const PATCHED = replaceEachOnce(ORIGINAL, [
  [
    `  const attributes = decoder.readInt8()

  const timestampDelta = decoder.readVarLong()
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : Long.fromValue(firstTimestamp)
          .add(timestampDelta)
          .toString()

  const offsetDelta = decoder.readVarInt()
  const offset = Long.fromValue(firstOffset)
    .add(offsetDelta)
    .toString()

  const key = decoder.readVarIntBytes()
  const value = decoder.readVarIntBytes()
  const headers = decoder.readVarIntArray(HeaderDecoder).reduce(
`,
    `  const attributes = decoder.readInt8()

  // Patched by tierstream (scripts/kafkajs-patches/record-v0-decoder.mjs): the usual record (a timestamp delta of at
  // most 7 varint bytes, first offset and first timestamp canonical decimal strings of safe integers, no headers) is
  // decoded with numbers; the same strings and objects as the 2.2.4 code, which decodes everything else.
  const fastDelta = readShortVarLong(decoder)
  let timestamp
  if (timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp) {
    if (fastDelta === undefined) decoder.readVarLong()
    timestamp = maxTimestamp
  } else {
    const sum = fastDelta === undefined ? NaN : safeNumber(firstTimestamp, 0) + fastDelta
    timestamp = Number.isSafeInteger(sum)
      ? String(sum)
      : Long.fromValue(firstTimestamp)
          .add(fastDelta === undefined ? decoder.readVarLong() : fastDelta)
          .toString()
  }

  const offsetDelta = decoder.readVarInt()
  const offsetSum = safeNumber(firstOffset, 1) + offsetDelta
  const offset = Number.isSafeInteger(offsetSum)
    ? String(offsetSum)
    : Long.fromValue(firstOffset)
        .add(offsetDelta)
        .toString()

  const key = decoder.readVarIntBytes()
  const value = decoder.readVarIntBytes()
  if (decoder.buffer[decoder.offset] === 0) {
    decoder.offset += 1 // no headers
    return {
      magicByte,
      attributes, // Record level attributes are presently unused
      timestamp,
      offset,
      key,
      value,
      headers: {},
      isControlRecord: isControlBatch,
      batchContext,
    }
  }
  const headers = decoder.readVarIntArray(HeaderDecoder).reduce(
`,
  ],
  [
    `    isControlRecord: isControlBatch,
    batchContext,
  }
}
`,
    `    isControlRecord: isControlBatch,
    batchContext,
  }
}

// Patched by tierstream (scripts/kafkajs-patches/record-v0-decoder.mjs). Decoder.readVarLong's value as a number when
// its varint has at most 7 bytes (below 2^49: exact), the decoder moved past it; undefined (the decoder not moved)
// otherwise.
const readShortVarLong = decoder => {
  const buffer = decoder.buffer
  let offset = decoder.offset
  let result = 0
  let multiplier = 1
  for (let n = 0; n < 7; n++) {
    const byte = buffer[offset++]
    if (byte === undefined) return undefined
    result += (byte & 0x7f) * multiplier
    if (byte < 0x80) {
      decoder.offset = offset
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2
    }
    multiplier *= 128
  }
  return undefined
}

// The number a batch's first offset or first timestamp string stands for when it is the canonical decimal form of a
// safe integer (as Decoder.readInt64().toString() writes it), else NaN. The last string of each is remembered: a
// batch's records share it.
const lastTexts = [undefined, undefined]
const lastNumbers = [NaN, NaN]
const safeNumber = (text, slot) => {
  if (text === lastTexts[slot]) return lastNumbers[slot]
  const number = typeof text === 'string' ? Number(text) : NaN
  lastTexts[slot] = text
  lastNumbers[slot] = Number.isSafeInteger(number) && String(number) === text ? number : NaN
  return lastNumbers[slot]
}
`,
  ],
]);
