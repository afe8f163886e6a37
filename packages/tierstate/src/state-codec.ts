/**
 * The compact layout of a customer's tier state in Redis (docs/design-decisions.md §23), pure: no JSON, the
 * strings every customer shares (rules and cut-point versions, each dimension's tier and deciding rule) as small codes
 * of a code table (TierStateStore keeps it in Redis), numbers in base 36, the customer id left out (it is the key's).
 *
 *   1|<version>|<last_eval_day>|<rules_version code>|<cutpoints_version code>|<dimension codes>|<pending>[sections]
 *
 * - dimension codes: one code per dimension of `tiers` ∪ `decided_by`, of the string `[dimension, tier, rule]`
 *   (JSON; null where one of the two records lacks the dimension), comma-separated, in `tiers`' key order;
 * - pending: `<code of [dimension, tier]>:<since_day>` per pending demotion, comma-separated;
 * - optional sections, each `|` and a letter: `T` merged_tiers (codes of `[dimension, tier]`, comma-separated),
 *   `M` merges (`<count>` then `:<length>:<event id>` each), `I` merged_into (`<length>:<customer id>`). Free strings
 *   (customer and event ids) are length-prefixed, never coded: the code table holds no personal data.
 *
 * A value starting with `{` is the previous layout (JSON, read as is). Codes and numbers are base 36.
 */
import type { TierState } from '@tierstream/tiering';

/** The first character of a compact value (a JSON value starts with `{`). */
export const COMPACT_TIER_STATE = '1';

const b36 = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw new Error(`tier state: ${n} is not an integer`);
  return n.toString(36);
};

/**
 * The integer written as `s` by `Number.prototype.toString(36)` (a minus sign for negatives); throws an Error naming
 * `what` for anything else (no prefix, suffix or leading zero is taken).
 */
export function parseBase36(s: string, what: string): number {
  const n = Number.parseInt(s, 36);
  if (Number.isNaN(n) || n.toString(36) !== s) throw new Error(`${what}: bad number ${s}`);
  return n;
}

/**
 * Every string of `state` that its compact value refers to by code (each once): the code table must hold them
 * before `encodeTierState` runs.
 */
export function tierStateStrings(state: TierState): string[] {
  const out = new Set<string>([state.rules_version, state.cutpoints_version]);
  for (const s of dimensionStrings(state)) out.add(s);
  for (const [dim, p] of Object.entries(state.pending)) out.add(JSON.stringify([dim, p.tier]));
  for (const [dim, tier] of Object.entries(state.merged_tiers ?? {})) out.add(JSON.stringify([dim, tier]));
  return [...out];
}

function dimensionStrings(state: TierState): string[] {
  const dims = [...Object.keys(state.tiers)];
  for (const dim of Object.keys(state.decided_by)) if (!(dim in state.tiers)) dims.push(dim);
  return dims.map((dim) => JSON.stringify([dim, state.tiers[dim] ?? null, state.decided_by[dim] ?? null]));
}

/**
 * The compact value of `state` (without its customer id). `codeOf` gives the code of each string of
 * `tierStateStrings(state)` (a non-negative integer). Throws if a number of the state is not a safe integer.
 */
export function encodeTierState(state: TierState, codeOf: (text: string) => number): string {
  const c = (s: string) => b36(codeOf(s));
  let out = `${COMPACT_TIER_STATE}|${b36(state.version)}|${b36(state.last_eval_day)}|${c(state.rules_version)}|${c(state.cutpoints_version)}|`;
  out += dimensionStrings(state).map(c).join(',');
  out += '|';
  out += Object.entries(state.pending)
    .map(([dim, p]) => `${c(JSON.stringify([dim, p.tier]))}:${b36(p.since_day)}`)
    .join(',');
  if (state.merged_tiers !== undefined) {
    out += `|T${Object.entries(state.merged_tiers)
      .map(([dim, tier]) => c(JSON.stringify([dim, tier])))
      .join(',')}`;
  }
  if (state.merges !== undefined) {
    out += `|M${b36(state.merges.length)}`;
    for (const m of state.merges) out += `:${b36(m.length)}:${m}`;
  }
  if (state.merged_into !== undefined) out += `|I${b36(state.merged_into.length)}:${state.merged_into}`;
  return out;
}

/**
 * The tier state of `customerId` from its stored value: the compact layout, or the previous layout (JSON, returned
 * as parsed). `textOf` gives the string of a code, undefined for a code it does not know. Throws on a malformed value
 * or an unknown code (`UnknownCodeError`, so the caller can reload its code table and try again).
 */
export function decodeTierState(
  raw: string,
  customerId: string,
  textOf: (code: number) => string | undefined,
): TierState {
  if (raw.startsWith('{')) return JSON.parse(raw) as TierState;
  if (!raw.startsWith(`${COMPACT_TIER_STATE}|`)) throw new Error(`tier state of ${customerId}: unknown layout`);
  let at = 2;
  const field = (): string => {
    const end = raw.indexOf('|', at);
    const s = end < 0 ? raw.slice(at) : raw.slice(at, end);
    at = end < 0 ? raw.length : end + 1;
    return s;
  };
  const num = (s: string): number => parseBase36(s, `tier state of ${customerId}`);
  const text = (s: string): string => {
    const code = num(s);
    const t = textOf(code);
    if (t === undefined) throw new UnknownCodeError(code);
    return t;
  };
  const tuple = (s: string) => JSON.parse(text(s)) as [string, string | null, string | null];
  const list = (s: string) => (s === '' ? [] : s.split(','));
  const version = num(field());
  const lastEvalDay = num(field());
  // Keys in the order the engine builds them (evaluateTiers).
  const state: TierState = {
    customer_id: customerId,
    version,
    rules_version: text(field()),
    cutpoints_version: text(field()),
    last_eval_day: lastEvalDay,
    tiers: {},
    pending: {},
    decided_by: {},
  };
  for (const s of list(field())) {
    const [dim, tier, rule] = tuple(s);
    if (tier !== null) state.tiers[dim] = tier;
    if (rule !== null) state.decided_by[dim] = rule;
  }
  for (const s of list(field())) {
    const [code, since] = s.split(':') as [string, string];
    const [dim, tier] = tuple(code);
    state.pending[dim] = { tier: tier!, since_day: num(since) };
  }
  /** A length-prefixed string at `at`: `<length>:<text>`. */
  const sized = (): string => {
    const colon = raw.indexOf(':', at);
    if (colon < 0) throw new Error(`tier state of ${customerId}: truncated`);
    const length = num(raw.slice(at, colon));
    const s = raw.slice(colon + 1, colon + 1 + length);
    if (s.length !== length) throw new Error(`tier state of ${customerId}: truncated`);
    at = colon + 1 + length;
    return s;
  };
  let mergedInto: string | undefined;
  let merges: string[] | undefined;
  let mergedTiers: Record<string, string> | undefined;
  while (at < raw.length) {
    const tag = raw[at++];
    if (tag === 'T') {
      mergedTiers = {};
      for (const s of list(field())) {
        const [dim, tier] = tuple(s);
        mergedTiers[dim] = tier!;
      }
      continue;
    }
    if (tag === 'M') {
      const colon = raw.indexOf(':', at);
      const bar = raw.indexOf('|', at);
      const end = colon < 0 || (bar >= 0 && bar < colon) ? (bar < 0 ? raw.length : bar) : colon;
      const count = num(raw.slice(at, end));
      at = end;
      merges = [];
      for (let i = 0; i < count; i++) {
        if (raw[at] !== ':') throw new Error(`tier state of ${customerId}: truncated`);
        at++;
        merges.push(sized());
      }
    } else if (tag === 'I') {
      mergedInto = sized();
    } else {
      throw new Error(`tier state of ${customerId}: unknown section ${tag}`);
    }
    if (at < raw.length) {
      if (raw[at] !== '|') throw new Error(`tier state of ${customerId}: malformed`);
      at++;
    }
  }
  // In the order identity.ts builds them.
  if (mergedInto !== undefined) state.merged_into = mergedInto;
  if (merges !== undefined) state.merges = merges;
  if (mergedTiers !== undefined) state.merged_tiers = mergedTiers;
  return state;
}

/** A compact tier state refers to a code the code table given to `decodeTierState` does not have. */
export class UnknownCodeError extends Error {
  constructor(readonly code: number) {
    super(`tier state: unknown code ${code}`);
    this.name = 'UnknownCodeError';
  }
}
