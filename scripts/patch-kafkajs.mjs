// Applied after every `npm install` (package.json "postinstall"): replaces a few kafkajs 2.2.4 files by faster ones
// giving the same results (scripts/kafkajs-patches/: the per-partition grouping of a produce request, the produce
// request's record encoding, the fetched records' offset and timestamp decoding; each module says why, what it equals
// and when to drop it). Only a file with the exact 2.2.4 text, or one an earlier version of these patches wrote into
// kafkajs 2.2.4 (its `Patched by tierstream` marker), is replaced; anything else is left as it is with a
// warning (a newer kafkajs: review and update the patches). packages/kafka/test/kafkajs-patches.test.ts checks that
// every patch is installed and gives 2.2.4's results.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PATCHES } from './kafkajs-patches/index.mjs';

const require = createRequire(path.join(process.cwd(), 'package.json'));
let root;
try {
  root = path.dirname(require.resolve('kafkajs/package.json'));
} catch {
  process.exit(0); // kafkajs not installed (yet): nothing to patch
}
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
for (const { FILE, ORIGINAL, PATCHED } of PATCHES) {
  const file = path.join(root, FILE);
  const text = readFileSync(file, 'utf8');
  if (text === PATCHED) continue;
  // A file an earlier version of these patches wrote (our marker, kafkajs 2.2.4): replaced by the current patch.
  const ours = version === '2.2.4' && text.includes('Patched by tierstream');
  if (text !== ORIGINAL && !ours) {
    console.warn(`[tierstream] ${file} is not kafkajs 2.2.4's text: left unpatched (see scripts/kafkajs-patches/)`);
    continue;
  }
  writeFileSync(file, PATCHED);
}
