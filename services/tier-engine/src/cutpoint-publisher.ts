import type { AggregateConfig } from '@tierstream/aggregates';
import type { AvroSerde, TierCutPoints } from '@tierstream/contracts';
import type { RecordProducer } from '@tierstream/kafka';
import type { ServiceMetrics } from '@tierstream/observability';
import { type CutPoints, describeCutPoints, type Rules } from '@tierstream/tiering';
import { dayOf, isoDay } from '@tierstream/tierstate';

/** The rules version a cut-point version was computed for, when it records one (rules-change versions do). */
export function cutPointsRulesVersion(cp: CutPoints): string | undefined {
  return (cp as { rules_version?: string }).rules_version;
}

/**
 * Publishes each cut-point version on the cut-points topic for the warehouse (cutpoint_history, aggregate_configs),
 * described with the rules it is used under and the aggregate configuration (fx rates) of this engine.
 */
export class CutPointPublisher {
  private readonly publishedCutPoints = new Set<string>();
  /** The published versions, by object: the evaluation loop checks them without building a key. */
  private readonly publishedObjects = new WeakSet<CutPoints>();

  constructor(
    private readonly deps: {
      serde: AvroSerde;
      producer: RecordProducer;
      topic: string;
      aggregateConfig: AggregateConfig;
      metrics?: ServiceMetrics;
    },
    private readonly identity: { hash: string; json: string },
    private readonly wallClock: () => number,
  ) {}

  /** Whether this very object was published (or found already published) by this process. */
  isPublished(cp: CutPoints): boolean {
    return this.publishedObjects.has(cp);
  }

  private publishedKey(cp: CutPoints, rules: Rules): string {
    return `${cp.version}\n${cutPointsRulesVersion(cp) ?? rules.version}`;
  }

  /**
   * The warehouse record of a cut-point version (cutpoint_history, aggregate_configs): its cuts as the current rules
   * read them, the rules version, and the aggregate configuration (rates) of this engine.
   */
  record(cp: CutPoints, rules: Rules): TierCutPoints {
    const measured = cp.version.startsWith('cp-') ? dayOf(cp.computed_at) : null;
    const extra = cp as { from_day?: number; rules_seq?: number };
    return {
      version: cp.version,
      rules_version: cutPointsRulesVersion(cp) ?? rules.version,
      computed_at: cp.computed_at,
      measured_day: measured === null ? null : isoDay(measured),
      population: cp.population ?? null,
      effective_from: measured === null ? null : isoDay(extra.from_day ?? measured + 1),
      rules_seq: extra.rules_seq ?? null,
      cuts: describeCutPoints(rules, cp).map((c) => ({
        key: c.key,
        dimension: c.dimension,
        metric: c.metric,
        better: c.better,
        groups: c.groups,
        values: c.values,
        anchor_day: c.anchorDay === null ? null : isoDay(c.anchorDay),
      })),
      aggregate_config: this.identity.hash,
      reporting_currency: this.deps.aggregateConfig.reportingCurrency,
      fx_rates: this.deps.aggregateConfig.fxRates,
      aggregate_config_json: this.identity.json,
      emitted_at: this.wallClock(),
    };
  }

  /**
   * Publishes a cut-point version on the cut-points topic (key: the version; a re-publication is the same record, so
   * the warehouse keeps one row per key), once per process and rules version. A version computed for other rules
   * than the current ones is not published now (its cuts would be described with the wrong rules): the process that
   * runs those rules does.
   */
  async publish(cp: CutPoints, rules: Rules): Promise<void> {
    const key = this.publishedKey(cp, rules);
    if (this.publishedCutPoints.has(key)) {
      this.publishedObjects.add(cp);
      return;
    }
    const rulesVersion = cutPointsRulesVersion(cp);
    // Not yet: a rules change's version is stored before the engine switches to its rules (published once it has).
    if (rulesVersion !== undefined && rulesVersion !== rules.version) return;
    const { serde, topic } = this.deps;
    const record = this.record(cp, rules);
    const value = serde.encodeIfCached(topic, record) ?? (await serde.encode(topic, record));
    await this.deps.producer.sendMany([{ topic, records: [{ key: cp.version, value }] }]);
    this.deps.metrics?.recordsOut.inc({ topic }, 1);
    this.publishedCutPoints.add(key);
    this.publishedObjects.add(cp);
  }
}
