// Shared by the kafkajs patches (scripts/patch-kafkajs.mjs applies them after every npm install).

/**
 * `text` with each [find, replace] pair applied in order; each `find` must occur exactly once in the text as it stands
 * by then (else an Error naming the pair: a patch written against other text).
 * @param {string} text
 * @param {Array<[string, string]>} pairs
 * @returns {string}
 */
export function replaceEachOnce(text, pairs) {
  let out = text;
  for (const [i, [find, replace]] of pairs.entries()) {
    const at = out.indexOf(find);
    if (at < 0 || out.indexOf(find, at + 1) >= 0) {
      throw new Error(`kafkajs patch: replacement ${i} does not match exactly once`);
    }
    out = out.slice(0, at) + replace + out.slice(at + find.length);
  }
  return out;
}
