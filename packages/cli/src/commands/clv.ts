import type { ValidationReport } from '@tierstream/clv';
import type { ClvModel } from '@tierstream/tiering';
import { isoDay } from '@tierstream/tierstate';
import { formatTable } from '@tierstream/warehouse';
import { type Command, InvalidArgumentError } from 'commander';
import type { Clients } from '../clients';
import { CDNOW_SPLIT, clvModels, fitClvOnDemand, validateCdnowFile } from '../ops/clv';
import { print, printJson } from './args';

/**
 * Parser of a 0–1 option (--margin, --monthly-discount). A blank value is refused: Number('') is 0, which read
 * `--margin ""` as a zero margin (every clv_365d 0).
 * @throws InvalidArgumentError naming the option
 */
export const ratio = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) {
    throw new InvalidArgumentError(`${name}: expected a number between 0 and 1, got "${v}"`);
  }
  return n;
};
const timeUnit = (v: string) => {
  if (v !== 'weeks' && v !== 'days') throw new InvalidArgumentError(`expected weeks or days, got "${v}"`);
  return v;
};
const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** One line per model version: its parameters, log-likelihoods and sizes. */
export function renderModel(m: ClvModel): string {
  const b = m.bgnbd;
  const g = m.gammaGamma;
  return [
    `${m.version} (in force from ${isoDay(m.day + 1)}; time unit ${m.timeUnit}; fitted ${new Date(m.fittedAt).toISOString()} in ${Math.round(m.fitMs)} ms)`,
    `  BG/NBD      r=${fmt(b.r)} alpha=${fmt(b.alpha)} a=${fmt(b.a)} b=${fmt(b.b)}  LL=${fmt(m.bgnbdLogLikelihood, 2)}  customers=${m.sampleSize}`,
    `  Gamma-Gamma p=${fmt(g.p)} q=${fmt(g.q)} gamma=${fmt(g.gamma)} (minor units)  LL=${fmt(m.gammaGammaLogLikelihood, 2)}  repeat buyers=${m.repeatBuyers}`,
    `  clv_365d    margin=${m.margin} monthly discount=${m.monthlyDiscount}`,
  ].join('\n');
}

/** The text of `clv validate`: the fits, the conditional-expectation table, the weekly tracking. */
export function renderValidation(file: string, r: ValidationReport): string {
  const out: string[] = [];
  const b = r.bgnbd.params;
  out.push(
    `${file}: calibration ${isoDay(CDNOW_SPLIT.startDay)} to ${isoDay(CDNOW_SPLIT.calibrationEndDay)}, holdout to ${isoDay(CDNOW_SPLIT.holdoutEndDay)} (week ${r.end.period}), time in weeks`,
  );
  out.push(
    `BG/NBD (Fader, Hardie & Lee 2005): r=${fmt(b.r)} alpha=${fmt(b.alpha)} a=${fmt(b.a)} b=${fmt(b.b)} LL=${fmt(r.bgnbd.logLikelihood, 2)} customers=${r.bgnbd.sampleSize}${r.bgnbd.converged ? '' : ` (not converged: ${r.bgnbd.reason})`}`,
  );
  if (r.gammaGamma) {
    const g = r.gammaGamma.params;
    out.push(
      // Fitted on cents; shown in dollars as published: γ / 100, and LL + n·ln 100 (the density of zbar in dollars).
      `Gamma-Gamma (Fader & Hardie 2013): p=${fmt(g.p)} q=${fmt(g.q)} gamma=${fmt(g.gamma / 100)} LL=${fmt(r.gammaGamma.logLikelihood + r.gammaGamma.sampleSize * Math.log(100), 2)} (dollars) repeat buyers=${r.gammaGamma.sampleSize}`,
    );
  }
  out.push(
    `week ${r.end.period}: predicted ${fmt(r.end.predicted, 1)} vs actual ${r.end.actual} cumulative repeat transactions (${fmt(100 * r.end.relativeError, 1)} %)`,
  );
  out.push('');
  out.push(
    `conditional expectations of holdout transactions (${fmt(r.table.horizon, 1)} weeks) by calibration repeat transactions:`,
  );
  out.push(
    formatTable(
      r.table.rows.map((row) => ({
        x: row.xOrMore ? `${row.x}+` : String(row.x),
        customers: row.customers,
        actual_total: row.actualTotal,
        actual_mean: fmt(row.actualMean, 3),
        predicted_total: fmt(row.predictedTotal, 1),
        predicted_mean: fmt(row.predictedMean, 3),
      })),
    ),
  );
  out.push('');
  out.push('weekly tracking of cumulative repeat transactions:');
  out.push(
    formatTable(
      r.tracking.map((t) => ({
        week: t.period,
        end_day: isoDay(t.endDay),
        actual: t.actual,
        predicted: fmt(t.predicted, 1),
      })),
    ),
  );
  return out.join('\n');
}

/** `clv fit | show | validate`. */
export function registerClvCommands(program: Command, clients: Clients): void {
  const clv = program
    .command('clv')
    .description('predicted customer value (BG/NBD + Gamma-Gamma): fit on demand, show the model, validate on CDNOW');
  clv
    .command('show')
    .option('--all', 'every stored version, oldest first (default: the newest)')
    .option('--json', 'print JSON')
    .description('the CLV model in Redis: parameters, log-likelihoods, sample sizes, fit time')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const { latest, history } = await clvModels(clients);
      if (o.json) {
        printJson(o.all ? history : latest);
        return;
      }
      const shown = o.all ? history : latest ? [latest] : [];
      if (shown.length === 0) print('no CLV model fitted yet (the tier engine fits one when CLV_FIT_EVERY_DAYS > 0)');
      for (const m of shown) print(renderModel(m));
    });
  clv
    .command('fit')
    .option('--time-unit <unit>', 'weeks or days', timeUnit, 'weeks')
    .option('--margin <ratio>', 'share of the spend that is margin in clv_365d, 0–1', ratio('--margin'), 1)
    .option('--monthly-discount <rate>', 'monthly discount rate of clv_365d, 0–1', ratio('--monthly-discount'), 0)
    .option('--store', 'store the fit as the version of its day, unless that version exists (default: print only)')
    .option('--json', 'print JSON')
    .description(
      "fit the model now on every customer's inputs as of the last day the tier engine closed (as the engine would)",
    )
    .action(
      async (o: {
        timeUnit: 'weeks' | 'days';
        margin: number;
        monthlyDiscount: number;
        store?: boolean;
        json?: boolean;
      }) => {
        const r = await fitClvOnDemand(clients, {
          settings: { timeUnit: o.timeUnit, margin: o.margin, monthlyDiscount: o.monthlyDiscount },
          store: o.store ?? false,
          aggregateConfig: clients.aggregateConfig,
        });
        if (o.json) {
          printJson(r);
          return;
        }
        if (r.day === null || r.outcome === null) {
          print('no day closed on every engine partition yet: nothing to fit');
          process.exitCode = 1;
          return;
        }
        if (!r.outcome.ok) {
          print(`fit on ${r.population} customers as of ${isoDay(r.day)} did not give a model: ${r.outcome.reason}`);
          process.exitCode = 1;
          return;
        }
        print(renderModel(r.outcome.model));
        if (r.stored) print('stored');
        else if (o.store) {
          print(`not stored: version ${r.outcome.model.version} exists (a stored version is never replaced)`);
          process.exitCode = 1;
        } else print('not stored (use --store)');
      },
    );
  clv
    .command('validate')
    .argument('<cdnow file>', 'CDNOW_master.txt or CDNOW_sample.txt')
    .option('--json', 'print JSON')
    .description(
      'the calibration/holdout check of Fader, Hardie & Lee (2005) on a CDNOW file: fits, conditional expectations, weekly tracking',
    )
    .action((file: string, o: { json?: boolean }) => {
      const report = validateCdnowFile(file);
      if (o.json) printJson(report);
      else print(renderValidation(file, report));
    });
}
