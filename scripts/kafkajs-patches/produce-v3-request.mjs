// kafkajs 2.2.4's produce request (v3, also sent as v4-v7) encodes every record through its own Encoder: a zero-filled
// 512-byte buffer, a BigInt (Long) per timestamp delta and per varint byte loop, an array and a Buffer per varint, then
// copies the records into the batch, the batch into the partition, and so on (≈ 5 µs and ≈ 1 µs of GC per record at
// 1,000 records a request: the aggregator's signals). This writes an uncompressed batch of plain messages (null, string
// or Buffer key and value, no headers, timestamp delta an integer below 2^52 in magnitude) straight into one buffer of
// its exact size, the same bytes (≈ 0.6 µs per record); any other batch takes 2.2.4's own code unchanged.
// packages/kafka/test/kafkajs-patches.test.ts compares the bytes with 2.2.4's code (ORIGINAL below) on random batches.
// No kafkajs pull request does this (kafkajs #811, merged in 2.2.4, introduced the 512-byte preallocation; #475, an
// expandable buffer, was closed): drop this patch with kafkajs, or when a release encodes records in place.
import { replaceEachOnce } from './lib.mjs';

export const FILE = 'src/protocol/requests/produce/v3/request.js';

export const ORIGINAL = `const Long = require('../../../../utils/long')
const Encoder = require('../../../encoder')
const { Produce: apiKey } = require('../../apiKeys')
const { Types } = require('../../../message/compression')
const Record = require('../../../recordBatch/record/v0')
const { RecordBatch } = require('../../../recordBatch/v0')

/**
 * Produce Request (Version: 3) => transactional_id acks timeout [topic_data]
 *   transactional_id => NULLABLE_STRING
 *   acks => INT16
 *   timeout => INT32
 *   topic_data => topic [data]
 *     topic => STRING
 *     data => partition record_set
 *       partition => INT32
 *       record_set => RECORDS
 */

/**
 * @param [transactionalId=null] {String} The transactional id or null if the producer is not transactional
 * @param acks {Integer} See producer request v0
 * @param timeout {Integer} See producer request v0
 * @param [compression=CompressionTypes.None] {CompressionTypes}
 * @param topicData {Array}
 */
module.exports = ({
  acks,
  timeout,
  transactionalId = null,
  producerId = Long.fromInt(-1),
  producerEpoch = 0,
  compression = Types.None,
  topicData,
}) => ({
  apiKey,
  apiVersion: 3,
  apiName: 'Produce',
  expectResponse: () => acks !== 0,
  encode: async () => {
    const encodeTopic = topicEncoder(compression)
    const encodedTopicData = []

    for (const data of topicData) {
      encodedTopicData.push(
        await encodeTopic({ ...data, transactionalId, producerId, producerEpoch })
      )
    }

    return new Encoder()
      .writeString(transactionalId)
      .writeInt16(acks)
      .writeInt32(timeout)
      .writeArray(encodedTopicData)
  },
})

const topicEncoder = compression => async ({
  topic,
  partitions,
  transactionalId,
  producerId,
  producerEpoch,
}) => {
  const encodePartitions = partitionsEncoder(compression)
  const encodedPartitions = []

  for (const data of partitions) {
    encodedPartitions.push(
      await encodePartitions({ ...data, transactionalId, producerId, producerEpoch })
    )
  }

  return new Encoder().writeString(topic).writeArray(encodedPartitions)
}

const partitionsEncoder = compression => async ({
  partition,
  messages,
  transactionalId,
  firstSequence,
  producerId,
  producerEpoch,
}) => {
  const dateNow = Date.now()
  const messageTimestamps = messages
    .map(m => m.timestamp)
    .filter(timestamp => timestamp != null)
    .sort()

  const timestamps = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps
  const firstTimestamp = timestamps[0]
  const maxTimestamp = timestamps[timestamps.length - 1]

  const records = messages.map((message, i) =>
    Record({
      ...message,
      offsetDelta: i,
      timestampDelta: (message.timestamp || dateNow) - firstTimestamp,
    })
  )

  const recordBatch = await RecordBatch({
    compression,
    records,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    firstSequence,
    transactional: !!transactionalId,
    lastOffsetDelta: records.length - 1,
  })

  return new Encoder()
    .writeInt32(partition)
    .writeInt32(recordBatch.size())
    .writeEncoder(recordBatch)
}
`;

export const PATCHED = replaceEachOnce(ORIGINAL, [
  [
    `const { RecordBatch } = require('../../../recordBatch/v0')
`,
    `const { RecordBatch, MAGIC_BYTE } = require('../../../recordBatch/v0')
const crc32C = require('../../../recordBatch/crc32C')
`,
  ],
  [
    `  const records = messages.map((message, i) =>
`,
    `  // Patched by tierstream (scripts/kafkajs-patches/produce-v3-request.mjs): an uncompressed batch of plain
  // messages is written straight into one buffer, the same bytes as below (null when a message needs the general path).
  if (compression === Types.None) {
    const encoded = encodePlainPartition({
      partition,
      messages,
      dateNow,
      firstTimestamp,
      maxTimestamp,
      transactionalId,
      firstSequence,
      producerId,
      producerEpoch,
    })
    if (encoded !== null) return encoded
  }

  const records = messages.map((message, i) =>
`,
  ],
  [
    `    .writeEncoder(recordBatch)
}
`,
    `    .writeEncoder(recordBatch)
}

// Patched by tierstream (scripts/kafkajs-patches/produce-v3-request.mjs). The partition's data as the code above writes
// it when compression is None (partition, the record batch's size, the batch: first offset 0, length, leader epoch 0,
// magic, CRC-32C of the body, the body's header and its records), written into one buffer of its exact size: no Encoder
// and no 512-byte buffer per record, no BigInt per timestamp delta, no array per varint, no copy per level. Only
// messages that are plain objects with a null, string or Buffer key and value, no headers and a timestamp delta that is
// an integer below 2^52 in magnitude; otherwise null (the caller takes kafkajs 2.2.4's own path for the whole batch).
const MAX_PLAIN_DELTA = 2 ** 52

const plainBytes = v => v === undefined || v === null || typeof v === 'string' || Buffer.isBuffer(v)

const bytesLength = v =>
  v === undefined || v === null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length

// Encoder.sizeOfVarInt, the same int32 arithmetic
const sizeOfVarInt = value => {
  let encoded = (value << 1) ^ (value >> 31)
  let bytes = 1
  while ((encoded & 0xffffff80) !== 0) {
    bytes += 1
    encoded >>>= 7
  }
  return bytes
}

// Encoder.writeVarInt, the same int32 arithmetic; returns the offset after it
const writeVarInt = (buf, offset, value) => {
  let encoded = (value << 1) ^ (value >> 31)
  while ((encoded & 0xffffff80) !== 0) {
    buf[offset++] = (encoded & 0x7f) | 0x80
    encoded >>>= 7
  }
  buf[offset++] = encoded & 0x7f
  return offset
}

// Encoder.writeVarLong of an integer below 2^52 in magnitude (its zigzag value below 2^53: exact as a double)
const zigZagLong = value => (value >= 0 ? value * 2 : -value * 2 - 1)

const sizeOfUVarLong = zigZag => {
  let bytes = 1
  while (zigZag >= 128) {
    bytes += 1
    zigZag = Math.floor(zigZag / 128)
  }
  return bytes
}

const writeBytes = (buf, offset, value, length) => {
  offset = writeVarInt(buf, offset, length)
  if (length > 0) {
    if (typeof value === 'string') buf.write(value, offset, length, 'utf8')
    else value.copy(buf, offset)
  }
  return length > 0 ? offset + length : offset
}

const encodePlainPartition = ({
  partition,
  messages,
  dateNow,
  firstTimestamp,
  maxTimestamp,
  transactionalId,
  firstSequence,
  producerId,
  producerEpoch,
}) => {
  const count = messages.length
  const deltas = new Array(count)
  const keyLengths = new Array(count)
  const valueLengths = new Array(count)
  const bodySizes = new Array(count)
  const keys = new Array(count)
  const values = new Array(count)
  let recordsSize = 0
  for (let i = 0; i < count; i++) {
    const message = messages[i]
    if (message === null || typeof message !== 'object' || Object.getPrototypeOf(message) !== Object.prototype) {
      return null
    }
    const { key, value, headers } = message
    if (!plainBytes(key) || !plainBytes(value)) return null
    if (headers !== undefined && (headers === null || Object.keys(headers).length !== 0)) return null
    const timestampDelta = (message.timestamp || dateNow) - firstTimestamp
    if (typeof timestampDelta !== 'number' || !Number.isInteger(timestampDelta)) return null
    if (Math.abs(timestampDelta) >= MAX_PLAIN_DELTA) return null
    const zigZag = zigZagLong(timestampDelta)
    const keyLength = bytesLength(key)
    const valueLength = bytesLength(value)
    const bodySize =
      1 + // attributes
      sizeOfUVarLong(zigZag) +
      sizeOfVarInt(i) +
      sizeOfVarInt(keyLength) +
      (keyLength > 0 ? keyLength : 0) +
      sizeOfVarInt(valueLength) +
      (valueLength > 0 ? valueLength : 0) +
      1 // no headers: varint 0
    deltas[i] = zigZag
    keys[i] = key
    values[i] = value
    keyLengths[i] = keyLength
    valueLengths[i] = valueLength
    bodySizes[i] = bodySize
    recordsSize += sizeOfVarInt(bodySize) + bodySize
  }

  // The body's header through kafkajs' own Encoder (its Long handling of the timestamps and the producer id).
  const head = new Encoder(64)
    .writeInt16(transactionalId ? 16 : 0) // compression None, create time, transactional flag
    .writeInt32(count - 1)
    .writeInt64(firstTimestamp)
    .writeInt64(maxTimestamp)
    .writeInt64(producerId === undefined ? Long.fromValue(-1) : producerId)
    .writeInt16(producerEpoch === undefined ? 0 : producerEpoch)
    .writeInt32(firstSequence === undefined ? 0 : firstSequence)
    .writeInt32(count)
    .buffer

  const batchSize = 4 + 1 + 4 + head.length + recordsSize // leader epoch, magic, CRC, body
  const total = 4 + 4 + 8 + 4 + batchSize
  const buf = Buffer.allocUnsafe(total)
  buf.writeInt32BE(partition, 0)
  buf.writeInt32BE(8 + 4 + batchSize, 4)
  buf.writeInt32BE(0, 8) // first offset (int64 0)
  buf.writeInt32BE(0, 12)
  buf.writeInt32BE(batchSize, 16)
  buf.writeInt32BE(0, 20) // partition leader epoch
  buf.writeInt8(MAGIC_BYTE, 24)
  const bodyStart = 29
  head.copy(buf, bodyStart)
  let offset = bodyStart + head.length
  for (let i = 0; i < count; i++) {
    offset = writeVarInt(buf, offset, bodySizes[i])
    buf[offset++] = 0 // attributes
    let zigZag = deltas[i]
    while (zigZag >= 128) {
      buf[offset++] = (zigZag % 128) | 0x80
      zigZag = Math.floor(zigZag / 128)
    }
    buf[offset++] = zigZag
    offset = writeVarInt(buf, offset, i)
    offset = writeBytes(buf, offset, keys[i], keyLengths[i])
    offset = writeBytes(buf, offset, values[i], valueLengths[i])
    buf[offset++] = 0 // headers: none
  }
  if (offset !== total) {
    throw new Error('size mismatch in the patched produce encoding (scripts/kafkajs-patches/produce-v3-request.mjs)')
  }
  buf.writeUInt32BE(crc32C(buf.subarray(bodyStart)), 25)

  const encoder = new Encoder(0)
  encoder.buf = buf
  encoder.offset = total
  return encoder
}
`,
  ],
]);
