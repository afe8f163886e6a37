import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type AggregateConfig, DEFAULT_AGGREGATE_CONFIG, parseAggregateConfig } from './config';

/**
 * The aggregate settings (reporting currency, fx rates, engagement weights, half-life) of a deployment: the YAML file
 * named by AGGREGATES_CONFIG_FILE, or DEFAULT_AGGREGATE_CONFIG when `file` is undefined or empty. The one loader of
 * the aggregator, the tier engine and tierctl, so metrics are computed the same way everywhere. Throws an Error
 * (one line: the file and what is wrong) when the file cannot be read, is not YAML or does not validate.
 */
export function loadAggregateConfig(file: string | undefined): AggregateConfig {
  if (!file) return DEFAULT_AGGREGATE_CONFIG;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new Error(`${file} is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return parseAggregateConfig(parsed);
  } catch (err) {
    const message =
      err instanceof z.ZodError ? z.prettifyError(err).replace(/\s*\n\s*/g, '; ') : (err as Error).message;
    throw new Error(`${file}: ${message}`);
  }
}

/**
 * The AGGREGATES_CONFIG_FILE setting (for a service's or tierctl's config schema): an optional path, checked by
 * loading the file, so a missing or invalid file is a configuration error naming the setting (exit 2 at start).
 */
export const aggregatesConfigFileSetting = z
  .string()
  .optional()
  .superRefine((file, ctx) => {
    try {
      loadAggregateConfig(file);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
