/**
 * The tier engine's population CLV model (issue 15): the versions known to this instance, which one is in force on a
 * day, and the fit at the cut-point barrier (tiering's clv-model.ts does the maths, tierstate's ClvModelStore keeps
 * the versions in Redis). A fit runs where the cut points are computed, by the writer of the last population part,
 * and is stored before the cut points: an instance that sees the cut points of a day sees its model too.
 */
import {
  type ClvModel,
  type ClvSettings,
  clvModelFor,
  clvPredictions,
  fitClvModel,
  isClvFitDay,
  type Metrics,
} from '@tierstream/tiering';
import { type ClvModelStore, isoDay } from '@tierstream/tierstate';
import type { Logger } from 'pino';

export interface ClvModelsOptions {
  store: ClvModelStore;
  settings: ClvSettings;
  logger: Logger;
  /** Wall clock for the fit time recorded in a model (default Date.now). */
  wallClock?: () => number;
}

export class ClvModels {
  private versions: ClvModel[] = [];

  constructor(private readonly o: ClvModelsOptions) {}

  get settings(): ClvSettings {
    return this.o.settings;
  }

  /** Adds a version (same name: ignored). */
  add(model: ClvModel): void {
    if (this.versions.some((m) => m.version === model.version)) return;
    this.versions.push(model);
    this.versions.sort((a, b) => a.day - b.day);
  }

  /** The newest version known, or null. */
  get latest(): ClvModel | null {
    return this.versions[this.versions.length - 1] ?? null;
  }

  /** The model in force for an evaluation as of `day` (fitted at the close of an earlier day), or null. */
  inForce(day: number): ClvModel | null {
    return clvModelFor(this.versions, day);
  }

  /** `m` (a customer's metrics as of the close of `day`, with the clv_* inputs) and its predictions on `day`. */
  withPredictions(m: Metrics, day: number): Metrics {
    return { ...m, ...clvPredictions(this.inForce(day), m) };
  }

  /**
   * The first day after `day` on which a new model version can come into force (the day after a fit): the model in
   * force's day + CLV_FIT_EVERY_DAYS (or `day` itself when a fit is already due or none was made yet), + 1; null when
   * fits are off. The due index wakes every customer whose rules read predictions on that day (a bounded cadence: once
   * per fit, never a scan). A fit happens only at a cut-point day, so it may come later: the customer is then
   * evaluated on a day where nothing changed and asks again (at most daily while a fit is due).
   */
  nextModelDay(day: number): number | null {
    if (this.o.settings.fitEveryDays <= 0) return null;
    const inForce = this.inForce(day);
    return (inForce === null ? day : Math.max(day, inForce.day + this.o.settings.fitEveryDays)) + 1;
  }

  /** Loads every stored version (with the cut points: at start, at a lease take-over, at the barrier). */
  async load(): Promise<void> {
    for (const m of await this.o.store.history()) this.add(m);
  }

  /** Whether the close of `day` (a cut-point day or not) fits a model; the same answer on every partition. */
  isFitDay(day: number, cutPointDay: boolean): boolean {
    return isClvFitDay(this.o.settings, this.inForce(day), day, cutPointDay);
  }

  /**
   * Fits on the population measured at the close of `day` and stores the new version; a fit that does not converge
   * (or has no data) keeps the model in force and logs why. Returns the new version, or null.
   */
  async fitAndStore(population: readonly Metrics[], day: number): Promise<ClvModel | null> {
    const now = (this.o.wallClock ?? Date.now)();
    const outcome = fitClvModel(population, day, this.o.settings, now);
    if (!outcome.ok) {
      const kept = this.inForce(day + 1)?.version ?? null;
      this.o.logger.warn(
        { day: isoDay(day), population: population.length, reason: outcome.reason, kept },
        'CLV model fit kept the model in force',
      );
      return null;
    }
    const m = outcome.model;
    await this.o.store.set(m);
    this.add(m);
    this.o.logger.info(
      {
        version: m.version,
        sampleSize: m.sampleSize,
        repeatBuyers: m.repeatBuyers,
        bgnbdLogLikelihood: m.bgnbdLogLikelihood,
        gammaGammaLogLikelihood: m.gammaGammaLogLikelihood,
        fitMs: Math.round(m.fitMs),
      },
      'fitted CLV model',
    );
    return m;
  }
}
