// The patches scripts/patch-kafkajs.mjs applies to kafkajs 2.2.4 after every npm install: each replaces one file's
// exact 2.2.4 text (ORIGINAL) by PATCHED. Each module says why, what it equals and when to drop it.
import * as groupMessagesPerPartition from './group-messages-per-partition.mjs';
import * as produceV3Request from './produce-v3-request.mjs';
import * as recordV0Decoder from './record-v0-decoder.mjs';

/** @type {ReadonlyArray<{ FILE: string, ORIGINAL: string, PATCHED: string }>} FILE: relative to kafkajs' root */
export const PATCHES = [groupMessagesPerPartition, produceV3Request, recordV0Decoder];
