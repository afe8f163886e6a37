/**
 * Rules file loading: YAML text → validated, normalised `Rules`.
 * Structure is checked with zod v4; conditions and cross references are checked by hand (same message style).
 * Every message reads `<file>: <path>: expected <what>, got <what was there>` (or a plain statement for semantic checks).
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { closeMetricNames, KNOWN_METRICS } from './metrics';
import {
  type AttributeName,
  type AttributeOp,
  type CompareOp,
  type Condition,
  type Dimension,
  RFM_KEYS,
  type RfmComponent,
  type Rules,
  RulesError,
  type Scoring,
} from './types';

type Path = (string | number)[];

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(top level)' : out;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (missing key)';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function valueAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

// ---------- zod building blocks: every custom error is the "expected ..." phrase ----------

const expected = (what: string) => ({ error: what });
const IDENT_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const identifier = (what = 'an identifier (letters, digits and _, starting with a letter)') =>
  z.string(expected(what)).regex(IDENT_RE, expected(what));
const tierName = identifier('a tier name (letters, digits and _, starting with a letter)');
const finite = (what = 'a number') => z.number(expected(what)).finite(expected(what));
const days = z
  .number(expected('a whole number of days >= 0'))
  .int(expected('a whole number of days >= 0'))
  .min(0, expected('a whole number of days >= 0'));
const metricName = z.string(expected('a metric name'));
const conditionSlot = z.unknown(); // checked by parseCondition, which gives better messages than a zod union

// biome-ignore lint/suspicious/noExplicitAny: generic helper over any zod shape
function strict<T extends Record<string, any>>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') return `unknown key (expected one of: ${allowed})`;
      if (iss.code === 'invalid_type') return `a mapping with keys ${allowed}`;
      return undefined;
    },
  });
}

const RulesScoringSchema = strict({
  kind: z.literal('rules'),
  rules: z.array(
    strict({ id: identifier('a rule id'), tier: tierName, when: conditionSlot }),
    expected('a list of rules'),
  ),
  default: strict({ id: identifier('a rule id'), tier: tierName }),
});

const ThresholdScoringSchema = strict({
  kind: z.literal('thresholds'),
  metric: metricName,
  tiers: z
    .array(strict({ tier: tierName, min: finite() }), expected('a list of {tier, min}'))
    .min(1, expected('a non-empty list of {tier, min}')),
  default_tier: tierName,
});

const shareNumber = z
  .number(expected('a number between 0 and 1'))
  .gt(0, expected('a number between 0 and 1'))
  .lte(1, expected('a number between 0 and 1'));

const tieRule = z.enum(['never_exceed', 'better_group'], expected('never_exceed or better_group'));

const ShareScoringSchema = strict({
  kind: z.literal('shares'),
  metric: metricName,
  tiers: z
    .array(strict({ tier: tierName, share: shareNumber }), expected('a list of {tier, share}'))
    .min(2, expected('a list of at least 2 {tier, share}')),
  eligible: conditionSlot,
  ineligible_tier: tierName,
  fallback_cuts: z.array(finite(), expected('a list of numbers')),
  ties: tieRule.optional(),
});

const RfmComponentSchema = strict({
  metric: metricName,
  better: z.enum(['higher', 'lower'], expected('higher or lower')).optional(),
  quintiles: z.boolean(expected('true or false')).optional(),
  bands: z.array(finite(), expected('a list of 4 numbers')).length(4, expected('a list of 4 numbers')),
});

const RfmScoringSchema = strict({
  kind: z.literal('rfm'),
  r: RfmComponentSchema,
  f: RfmComponentSchema,
  m: RfmComponentSchema,
  high_from: z
    .number(expected('a whole number 1..5'))
    .int(expected('a whole number 1..5'))
    .min(1, expected('a whole number 1..5'))
    .max(5, expected('a whole number 1..5'))
    .optional(),
  segments: strict(Object.fromEntries(RFM_KEYS.map((k) => [k, tierName])) as Record<string, typeof tierName>),
  eligible: conditionSlot,
  ineligible_tier: tierName,
  ties: tieRule.optional(),
});

const ScoringSchema = z.discriminatedUnion(
  'kind',
  [RulesScoringSchema, ThresholdScoringSchema, ShareScoringSchema, RfmScoringSchema],
  expected('a scoring with kind one of rules, thresholds, shares, rfm'),
);

const DimensionSchema = strict({
  id: identifier('a dimension id (letters, digits and _, starting with a letter)'),
  description: z.string(expected('a string')).optional(),
  tiers: z.array(tierName, expected('a list of tier names')).min(1, expected('a non-empty list of tier names')),
  ordered: z.boolean(expected('true or false')).optional(),
  grace_days: days.optional(),
  grace_applies_to: z.enum(['demotions', 'all'], expected('demotions or all')).optional(),
  reactivation: strict({
    from: z.array(tierName, expected('a list of tier names')),
    to: z.array(tierName, expected('a list of tier names')),
    reason: identifier('a reason code').optional(),
  }).optional(),
  scoring: ScoringSchema,
});

const RulesFileSchema = strict({
  version: z.string(expected('a version string')).min(1, expected('a non-empty version string')),
  description: z.string(expected('a string')).optional(),
  dimensions: z
    .array(DimensionSchema, expected('a list of dimensions'))
    .min(1, expected('a non-empty list of dimensions')),
});

function zodMessages(err: z.ZodError, base: Path, raw: unknown, file: string): string[] {
  const out: string[] = [];
  for (const iss of err.issues) {
    const path = [...base, ...(iss.path as Path)];
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) out.push(`${file}: ${formatPath([...path, key])}: ${iss.message}`);
      continue;
    }
    out.push(`${file}: ${formatPath(path)}: expected ${iss.message}, got ${describeValue(valueAt(raw, path))}`);
  }
  return out;
}

// ---------- conditions ----------

const METRIC_OPS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq', 'between', 'is_null', 'not_null'] as const;
const ATTRIBUTE_OPS = [
  'eq',
  'neq',
  'in',
  'not_in',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'is_null',
  'not_null',
] as const;
const WINDOW_VALUES = ['30d', '90d', '365d', 'lifetime'] as const;

const MetricConditionSchema = strict({
  metric: metricName,
  window: z.enum(WINDOW_VALUES, expected('one of 30d, 90d, 365d, lifetime')).optional(),
  op: z.enum(METRIC_OPS, expected(`one of ${METRIC_OPS.join(', ')}`)),
  value: z.unknown().optional(),
});
const MetricRefSchema = strict({
  metric: metricName,
  window: z.enum(WINDOW_VALUES, expected('one of 30d, 90d, 365d, lifetime')).optional(),
});
const AttributeConditionSchema = strict({
  attribute: z.enum(['industry', 'company_size', 'region'], expected('one of industry, company_size, region')),
  op: z.enum(ATTRIBUTE_OPS, expected(`one of ${ATTRIBUTE_OPS.join(', ')}`)),
  value: z.unknown().optional(),
});
const TierConditionSchema = strict({
  tier: strict({
    dimension: identifier('a dimension id'),
    in: z
      .array(tierName, expected('a non-empty list of tier names'))
      .min(1, expected('a non-empty list of tier names')),
  }),
});
const CONDITION_KEYS = 'metric, attribute, tier, all, any or not';

interface Ctx {
  file: string;
  raw: unknown;
  issues: string[];
  /** dimensions defined before the current one (id → tiers) */
  earlier: Map<string, readonly string[]>;
  /** every dimension id in the file, to tell "later" from "unknown" */
  allDims: Map<string, number>;
  currentDim: string;
}

function checkMetric(name: string, path: Path, ctx: Ctx): void {
  if (KNOWN_METRICS.includes(name)) return;
  const close = closeMetricNames(name);
  ctx.issues.push(
    `${ctx.file}: ${formatPath(path)}: unknown metric "${name}"${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`,
  );
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isRange = (v: unknown): v is [number, number] =>
  Array.isArray(v) && v.length === 2 && isNum(v[0]) && isNum(v[1]) && v[0] <= v[1];

function resolveName(metric: string, window: string | undefined): string {
  return window === undefined ? metric : `${metric}_${window}`;
}

function parseCondition(raw: unknown, path: Path, ctx: Ctx): Condition | null {
  const bad = (what: string, at: Path = path): null => {
    ctx.issues.push(`${ctx.file}: ${formatPath(at)}: expected ${what}, got ${describeValue(valueAt(ctx.raw, at))}`);
    return null;
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return bad(`a condition (a mapping with ${CONDITION_KEYS})`);
  }
  const obj = raw as Record<string, unknown>;
  const zodCheck = <T>(schema: z.ZodType<T>): T | null => {
    const r = schema.safeParse(raw);
    if (!r.success) {
      ctx.issues.push(...zodMessages(r.error, path, ctx.raw, ctx.file));
      return null;
    }
    return r.data;
  };
  for (const group of ['all', 'any'] as const) {
    if (group in obj) {
      const parsed = zodCheck(
        strict({
          [group]: z
            .array(z.unknown(), expected('a non-empty list of conditions'))
            .min(1, expected('a non-empty list of conditions')),
        }),
      );
      if (!parsed) return null;
      const items = (parsed as Record<string, unknown[]>)[group]!;
      const of = items.map((c, i) => parseCondition(c, [...path, group, i], ctx));
      return of.every((c) => c !== null) ? { type: group, of: of as Condition[] } : null;
    }
  }
  if ('not' in obj) {
    if (!zodCheck(strict({ not: z.unknown() }))) return null;
    const inner = parseCondition(obj.not, [...path, 'not'], ctx);
    return inner ? { type: 'not', of: inner } : null;
  }
  if ('tier' in obj) {
    const parsed = zodCheck(TierConditionSchema);
    if (!parsed) return null;
    const { dimension, in: tiers } = parsed.tier;
    const dimPath = [...path, 'tier', 'dimension'];
    const known = ctx.earlier.get(dimension);
    if (!known) {
      if (dimension === ctx.currentDim) {
        ctx.issues.push(
          `${ctx.file}: ${formatPath(dimPath)}: dimension "${dimension}" cannot refer to itself; expected an earlier dimension (${[...ctx.earlier.keys()].join(', ') || 'none'})`,
        );
      } else if (ctx.allDims.has(dimension)) {
        ctx.issues.push(
          `${ctx.file}: ${formatPath(dimPath)}: dimension "${dimension}" is defined later in the file; expected an earlier dimension (${[...ctx.earlier.keys()].join(', ') || 'none'})`,
        );
      } else {
        ctx.issues.push(
          `${ctx.file}: ${formatPath(dimPath)}: unknown dimension "${dimension}"; expected an earlier dimension (${[...ctx.earlier.keys()].join(', ') || 'none'})`,
        );
      }
      return null;
    }
    let ok = true;
    tiers.forEach((t, i) => {
      if (!known.includes(t)) {
        ok = false;
        ctx.issues.push(
          `${ctx.file}: ${formatPath([...path, 'tier', 'in', i])}: unknown tier "${t}" of dimension "${dimension}"; expected one of ${known.join(', ')}`,
        );
      }
    });
    return ok ? { type: 'tier', dimension, in: tiers } : null;
  }
  if ('attribute' in obj) {
    const parsed = zodCheck(AttributeConditionSchema);
    if (!parsed) return null;
    const op = parsed.op as AttributeOp;
    const v = parsed.value;
    const vPath = [...path, 'value'];
    if (op === 'is_null' || op === 'not_null') {
      if (v !== undefined) return bad(`no value for op ${op}`, vPath);
    } else if (op === 'in' || op === 'not_in') {
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' || isNum(x)))
        return bad(`a non-empty list of strings or numbers for op ${op}`, vPath);
    } else if (op === 'between') {
      if (!isRange(v)) return bad('a list [low, high] of two numbers with low <= high for op between', vPath);
    } else if (op === 'eq' || op === 'neq') {
      if (typeof v !== 'string' && !isNum(v)) return bad(`a string or number for op ${op}`, vPath);
    } else if (!isNum(v)) return bad(`a number for op ${op}`, vPath);
    return { type: 'attribute', attribute: parsed.attribute as AttributeName, op, value: v };
  }
  if ('metric' in obj) {
    const parsed = zodCheck(MetricConditionSchema);
    if (!parsed) return null;
    const metric = resolveName(parsed.metric, parsed.window);
    checkMetric(metric, [...path, 'metric'], ctx);
    const op = parsed.op as CompareOp;
    const v = parsed.value;
    const vPath = [...path, 'value'];
    const base = { type: 'metric' as const, metric, op, value: null, range: null, ref: null };
    if (op === 'is_null' || op === 'not_null') {
      if (v !== undefined) return bad(`no value for op ${op}`, vPath);
      return base;
    }
    if (op === 'between') {
      if (!isRange(v)) return bad('a list [low, high] of two numbers with low <= high for op between', vPath);
      return { ...base, range: [v[0], v[1]] };
    }
    if (isNum(v)) return { ...base, value: v };
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'metric' in v) {
      const r = MetricRefSchema.safeParse(v);
      if (!r.success) {
        ctx.issues.push(...zodMessages(r.error, vPath, ctx.raw, ctx.file));
        return null;
      }
      const ref = resolveName(r.data.metric, r.data.window);
      checkMetric(ref, [...vPath, 'metric'], ctx);
      return { ...base, ref };
    }
    return bad(`a number or {metric: <name>} for op ${op}`, vPath);
  }
  return bad(`a condition (a mapping with ${CONDITION_KEYS})`);
}

// ---------- whole file ----------

/** Parse and validate a rules file. Throws RulesError listing every problem found. */
export function parseRules(text: string, file: string): Rules {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    throw new RulesError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `${file}: ${pos ? `line ${pos.line}, column ${pos.col}` : '(yaml)'}: invalid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const raw: unknown = doc.toJS();
  const top = RulesFileSchema.safeParse(raw);
  if (!top.success) throw new RulesError(zodMessages(top.error, [], raw, file));
  const data = top.data;

  const issues: string[] = [];
  const allDims = new Map<string, number>();
  data.dimensions.forEach((d, i) => {
    if (allDims.has(d.id)) {
      issues.push(
        `${file}: ${formatPath(['dimensions', i, 'id'])}: duplicate dimension id "${d.id}" (first at dimensions[${allDims.get(d.id)}])`,
      );
    } else allDims.set(d.id, i);
  });

  const earlier = new Map<string, readonly string[]>();
  const dimensions: Dimension[] = [];
  data.dimensions.forEach((d, di) => {
    const dp: Path = ['dimensions', di];
    const ctx: Ctx = { file, raw, issues, earlier, allDims, currentDim: d.id };
    const tierSet = new Set<string>();
    d.tiers.forEach((t, ti) => {
      if (tierSet.has(t)) issues.push(`${file}: ${formatPath([...dp, 'tiers', ti])}: duplicate tier "${t}"`);
      tierSet.add(t);
    });
    const needTier = (t: string, path: Path) => {
      if (!tierSet.has(t))
        issues.push(
          `${file}: ${formatPath(path)}: unknown tier "${t}"; expected one of ${d.tiers.join(', ')} (the dimension's tiers)`,
        );
    };
    const sp: Path = [...dp, 'scoring'];
    const s = d.scoring;
    let scoring: Scoring | null = null;
    if (s.kind === 'rules') {
      const ids = new Map<string, number>();
      const rules: { id: string; tier: string; when: Condition }[] = [];
      s.rules.forEach((r, ri) => {
        const rp: Path = [...sp, 'rules', ri];
        if (ids.has(r.id)) issues.push(`${file}: ${formatPath([...rp, 'id'])}: duplicate rule id "${r.id}"`);
        ids.set(r.id, ri);
        needTier(r.tier, [...rp, 'tier']);
        const when = parseCondition(r.when, [...rp, 'when'], ctx);
        if (when) rules.push({ id: r.id, tier: r.tier, when });
      });
      if (ids.has(s.default.id))
        issues.push(`${file}: ${formatPath([...sp, 'default', 'id'])}: duplicate rule id "${s.default.id}"`);
      needTier(s.default.tier, [...sp, 'default', 'tier']);
      scoring = { kind: 'rules', rules, default: { id: s.default.id, tier: s.default.tier } };
    } else if (s.kind === 'thresholds') {
      checkMetric(s.metric, [...sp, 'metric'], ctx);
      s.tiers.forEach((t, ti) => {
        needTier(t.tier, [...sp, 'tiers', ti, 'tier']);
        const prev = s.tiers[ti - 1];
        if (prev && t.min >= prev.min)
          issues.push(
            `${file}: ${formatPath([...sp, 'tiers', ti, 'min'])}: expected a min below ${prev.min} (tiers are listed highest first), got ${t.min}`,
          );
      });
      needTier(s.default_tier, [...sp, 'default_tier']);
      scoring = { kind: 'thresholds', metric: s.metric, tiers: s.tiers, default_tier: s.default_tier };
    } else if (s.kind === 'shares') {
      checkMetric(s.metric, [...sp, 'metric'], ctx);
      for (const [ti, t] of s.tiers.entries()) needTier(t.tier, [...sp, 'tiers', ti, 'tier']);
      const sum = s.tiers.reduce((a, t) => a + t.share, 0);
      if (Math.abs(sum - 1) > 1e-9)
        issues.push(
          `${file}: ${formatPath([...sp, 'tiers'])}: expected shares summing to 1, got ${Number(sum.toFixed(9))}`,
        );
      const seen = new Set<string>();
      s.tiers.forEach((t, ti) => {
        if (seen.has(t.tier))
          issues.push(`${file}: ${formatPath([...sp, 'tiers', ti, 'tier'])}: duplicate tier "${t.tier}"`);
        seen.add(t.tier);
      });
      if (s.fallback_cuts.length !== s.tiers.length - 1) {
        issues.push(
          `${file}: ${formatPath([...sp, 'fallback_cuts'])}: expected ${s.tiers.length - 1} cut values (one fewer than tiers), got ${s.fallback_cuts.length}`,
        );
      } else {
        s.fallback_cuts.forEach((c, ci) => {
          const prev = s.fallback_cuts[ci - 1];
          if (prev !== undefined && c > prev)
            issues.push(
              `${file}: ${formatPath([...sp, 'fallback_cuts', ci])}: expected a value <= ${prev} (cuts are listed highest first), got ${c}`,
            );
        });
      }
      needTier(s.ineligible_tier, [...sp, 'ineligible_tier']);
      const eligible = s.eligible === undefined ? null : parseCondition(s.eligible, [...sp, 'eligible'], ctx);
      scoring = {
        kind: 'shares',
        metric: s.metric,
        tiers: s.tiers,
        eligible,
        ineligible_tier: s.ineligible_tier,
        fallback_cuts: s.fallback_cuts,
        ties: s.ties ?? 'never_exceed',
      };
    } else {
      const comp = (key: 'r' | 'f' | 'm'): RfmComponent => {
        const c = s[key];
        checkMetric(c.metric, [...sp, key, 'metric'], ctx);
        const better = c.better ?? 'higher';
        c.bands.forEach((b, bi) => {
          const prev = c.bands[bi - 1];
          if (prev === undefined) return;
          if (better === 'higher' && b > prev)
            issues.push(
              `${file}: ${formatPath([...sp, key, 'bands', bi])}: expected a value <= ${prev} (bands are the minimums for scores 5, 4, 3, 2), got ${b}`,
            );
          if (better === 'lower' && b < prev)
            issues.push(
              `${file}: ${formatPath([...sp, key, 'bands', bi])}: expected a value >= ${prev} (bands are the maximums for scores 5, 4, 3, 2), got ${b}`,
            );
        });
        return { metric: c.metric, better, quintiles: c.quintiles ?? true, bands: c.bands };
      };
      const r = comp('r');
      const f = comp('f');
      const m = comp('m');
      for (const k of RFM_KEYS) needTier(s.segments[k]!, [...sp, 'segments', k]);
      needTier(s.ineligible_tier, [...sp, 'ineligible_tier']);
      const eligible = s.eligible === undefined ? null : parseCondition(s.eligible, [...sp, 'eligible'], ctx);
      scoring = {
        kind: 'rfm',
        r,
        f,
        m,
        high_from: s.high_from ?? 3,
        segments: s.segments as Record<(typeof RFM_KEYS)[number], string>,
        eligible,
        ineligible_tier: s.ineligible_tier,
        ties: s.ties ?? 'never_exceed',
      };
    }
    if (d.reactivation) {
      for (const [i, t] of d.reactivation.from.entries()) needTier(t, [...dp, 'reactivation', 'from', i]);
      for (const [i, t] of d.reactivation.to.entries()) needTier(t, [...dp, 'reactivation', 'to', i]);
    }
    const ordered = d.ordered ?? true;
    // Promotions need an order: the tiers' rank, or for rfm the R, F and M letters (design-decisions §17).
    const hasOrder = ordered || s.kind === 'rfm';
    if (d.grace_applies_to === 'demotions' && !hasOrder)
      issues.push(
        `${file}: ${formatPath([...dp, 'grace_applies_to'])}: expected all: an unordered dimension has no promotions (only ordered dimensions and kind rfm have an order)`,
      );
    dimensions.push({
      id: d.id,
      description: d.description ?? null,
      tiers: d.tiers,
      ordered,
      grace_days: d.grace_days ?? 0,
      grace_applies_to: d.grace_applies_to ?? (hasOrder ? 'demotions' : 'all'),
      reactivation: d.reactivation
        ? { from: d.reactivation.from, to: d.reactivation.to, reason: d.reactivation.reason ?? 'REACTIVATED' }
        : null,
      scoring: scoring!,
    });
    earlier.set(d.id, d.tiers);
  });
  if (issues.length > 0) throw new RulesError(issues);
  return { version: data.version, file, dimensions };
}
