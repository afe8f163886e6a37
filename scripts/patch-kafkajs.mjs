// Applied after every `npm install` (package.json "postinstall"): kafkajs 2.2.4's producer groups a request's
// messages per partition by copying the partition's list for every message (time and garbage quadratic in the
// messages per partition: ≈ 1–3 µs and ≈ 3 KB per record at 1,024 records a request, the largest allocator of the
// aggregator's signal path). This replaces that one function with a linear one giving the same result (one list per
// partition, messages in order, the partitioner called once per message in order). Only the exact 2.2.4 text is
// replaced; anything else is left as it is with a warning (a newer kafkajs: review and update this script).
// packages/kafka/test/kafkajs-grouping.test.ts checks that the installed function is the linear one. The same change
// is kafkajs' open pull request #1576; drop this script once a kafkajs release has it.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const ORIGINAL = `module.exports = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) {
    return {}
  }

  return messages.reduce((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition] || []
    return Object.assign(result, { [partition]: [...current, message] })
  }, {})
}
`;

const PATCHED = `module.exports = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) {
    return {}
  }

  // Patched by tierstream (scripts/patch-kafkajs.mjs): linear, same result as the 2.2.4 reduce that copied the
  // partition's list for every message.
  const result = {}
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition]
    if (current) current.push(message)
    else result[partition] = [message]
  }
  return result
}
`;

const require = createRequire(path.join(process.cwd(), 'package.json'));
let file;
try {
  file = path.join(path.dirname(require.resolve('kafkajs/package.json')), 'src/producer/groupMessagesPerPartition.js');
} catch {
  process.exit(0); // kafkajs not installed (yet): nothing to patch
}
const text = readFileSync(file, 'utf8');
if (text === PATCHED) process.exit(0);
if (text !== ORIGINAL) {
  console.warn(`[tierstream] ${file} is not kafkajs 2.2.4's text: left unpatched (see scripts/patch-kafkajs.mjs)`);
  process.exit(0);
}
writeFileSync(file, PATCHED);
