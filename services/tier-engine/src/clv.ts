/**
 * The tier engine's population CLV model (issue 15): the versions known to this instance, which one is in force on a
 * day, and the fit at the cut-point barrier (tiering's clv-model.ts does the maths, tierstate's ClvModelStore keeps
 * the versions in Redis). A fit runs where the cut points are computed, by the writer of the last population part,
 * and is stored before the cut points: an instance that sees the cut points of a day sees its model too.
 */
import {
  type ClvModel,
  type ClvSettings,
  type CutPointSchedule,
  type CutPoints,
  clvLastAttemptDay,
  clvModelFor,
  clvPredictions,
  fitClvModel,
  isClvFitDay,
  type Metrics,
  nextClvModelDay,
} from '@tierstream/tiering';
import { type ClvModelStore, isoDay } from '@tierstream/tierstate';
import type { Logger } from 'pino';

export interface ClvModelsOptions {
  store: ClvModelStore;
  settings: ClvSettings;
  /** The cut-point schedule (CUTPOINTS_*): fits happen only at cut-point day closes. */
  schedule: CutPointSchedule;
  logger: Logger;
  /** Wall clock for the fit time recorded in a model (default Date.now). */
  wallClock?: () => number;
}

export class ClvModels {
  private versions: ClvModel[] = [];
  /** Days of fit attempts that gave no model (stored, loaded with the versions), ascending. */
  private failed: number[] = [];

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

  /** Records a failed fit attempt at the close of `day` (in memory; fitAndStore stores it). */
  addFailed(day: number): void {
    if (this.failed.includes(day)) return;
    this.failed.push(day);
    this.failed.sort((a, b) => a - b);
  }

  /** The day of the last fit attempt that counts for an evaluation as of `day` (tiering's clvLastAttemptDay). */
  lastAttemptDay(day: number): number | null {
    return clvLastAttemptDay(this.inForce(day), this.failed, day);
  }

  /**
   * The first day after `day` on which a new model version can come into force (the day after the fit at the first
   * cut-point day close on or after the due day; tiering's nextClvModelDay), given the cut points in force on `day`;
   * null when fits are off. The due index wakes every customer whose rules read predictions on that day (once per
   * fit attempt, plus at most one when a cut-point recompute before the due day may change the schedule; never a
   * scan). After a failed fit the next attempt is CLV_FIT_EVERY_DAYS later, so a population too small to fit does not
   * wake everyone daily.
   */
  nextModelDay(day: number, cutPointsInForce: CutPoints): number | null {
    return nextClvModelDay(this.o.settings, this.o.schedule, cutPointsInForce, this.lastAttemptDay(day), day);
  }

  /** Loads every stored version (with the cut points: at start, at a lease take-over, at the barrier). */
  async load(): Promise<void> {
    for (const m of await this.o.store.history()) this.add(m);
    for (const d of await this.o.store.failedDays()) this.addFailed(d);
  }

  /** Whether the close of `day` (a cut-point day or not) fits a model; the same answer on every partition. */
  isFitDay(day: number, cutPointDay: boolean): boolean {
    return isClvFitDay(this.o.settings, this.lastAttemptDay(day), day, cutPointDay);
  }

  /**
   * Fits on the population measured at the close of `day` and stores the new version; a fit that gives no model (no
   * convergence, too few customers or repeat buyers, q ≤ 1) keeps the model in force, logs why and stores the failed
   * attempt's day (before the cut points, like a model: every instance then agrees on the next attempt). Returns the
   * new version, or null.
   */
  async fitAndStore(population: readonly Metrics[], day: number): Promise<ClvModel | null> {
    const now = (this.o.wallClock ?? Date.now)();
    const outcome = fitClvModel(population, day, this.o.settings, now);
    if (!outcome.ok) {
      await this.o.store.setFailed(day, outcome.reason);
      this.addFailed(day);
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
