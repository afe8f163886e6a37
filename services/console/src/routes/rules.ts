import path from 'node:path';
import {
  activeRules,
  applyRulesText,
  diffRulesText,
  rulesHistory,
  showRules,
  validateRulesText,
} from '@tierstream/cli';
import { parseRules, RulesError } from '@tierstream/tiering';
import { TierStateStore } from '@tierstream/tierstate';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { readableRules } from '../rules-view';
import { type ConsoleRouteOptions, HttpError } from '../types';

/** The largest rules file accepted (bytes of YAML); the repository's files are ~10 KB. */
const MAX_RULES_BYTES = 512 * 1024;

/** An uploaded rules file: its YAML text and the file name its messages name. */
interface Upload {
  text: string;
  name: string;
}

/**
 * The upload of a POST: JSON `{ text, name }` (what the page sends), or the YAML itself as text/plain or
 * application/yaml with `?name=`. The name is reduced to its base name (`next.yaml`). Throws HttpError 400.
 */
function uploadOf(request: FastifyRequest): Upload {
  const body = request.body as unknown;
  const query = request.query as { name?: unknown };
  let text: unknown = body;
  let name: unknown = query.name;
  if (body !== null && typeof body === 'object') {
    text = (body as { text?: unknown }).text;
    name = (body as { name?: unknown }).name ?? name;
  }
  if (typeof text !== 'string' || text.trim() === '')
    throw new HttpError(400, 'expected the rules YAML: JSON {"text": "...", "name": "file.yaml"} or a text/plain body');
  if (Buffer.byteLength(text) > MAX_RULES_BYTES)
    throw new HttpError(413, `rules file larger than ${MAX_RULES_BYTES} bytes`);
  const base = typeof name === 'string' && name.trim() !== '' ? path.basename(name.trim()) : 'uploaded.yaml';
  return { text, name: base.replace(/[^\w.\- ]/g, '_') };
}

/**
 * The Rules page's API:
 * - `GET /api/v1/rules`: the active version as `tierctl rules show --json` has it (`show`: version, apply number,
 *   source, when, whether RULES_FILE differs, the engines' progress), its dimensions as readable tables (with the cut
 *   points in force), the history, and `can_apply` (the caller is an admin).
 * - `POST /api/v1/rules/validate` (an upload, see uploadOf): `{ valid: true, file, version, dimensions }` or
 *   `{ valid: false, issues }` with the messages `tierctl rules validate` prints (file: path, or line and column).
 * - `POST /api/v1/rules/preview`: the validation and, when valid, the dry run `tierctl rules diff --json` prints
 *   (diffRulesText: the moves, the demotions held by grace, the cut points the new rules would get) and the new
 *   file's dimensions. Changes nothing. It reads every customer, so one runs at a time (429 while one is running).
 * - `POST /api/v1/rules/apply` (admin role; 403 for a viewer): activates the upload as `tierctl rules apply` does
 *   (applyRulesText); 400 `{ error, issues }` for invalid rules.
 */
/**
 * The problems of an invalid upload as validate's `issues`: a RulesError's, or the YAML library's refusal to expand
 * aliases without bound (a ReferenceError thrown while the parsed document is turned into objects), which is
 * an invalid file too, not a console fault. null for any other error.
 */
function rulesIssues(err: unknown, file: string): string[] | null {
  if (err instanceof RulesError) return err.issues;
  if (err instanceof ReferenceError && /alias/i.test(err.message)) return [`${file}: invalid YAML: ${err.message}`];
  return null;
}

export default async function rulesRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const { deps, config } = opts;
  const clients = deps.clients;
  let previewRunning = false;
  // YAML uploads as they are (the JSON and text/plain parsers are Fastify's own).
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string', bodyLimit: MAX_RULES_BYTES },
    (_req, body, done) => done(null, body),
  );

  app.get('/api/v1/rules', async (request) => {
    const [show, active, history, cutPoints] = await Promise.all([
      showRules(clients, config.RULES_FILE),
      activeRules(clients),
      rulesHistory(clients),
      new TierStateStore(clients.redis, clients.redisPrefix).getCutPoints(),
    ]);
    return {
      show,
      active: active && {
        version: active.version,
        apply: active.apply,
        source: active.source,
        applied_at: active.applied_at,
        dimensions: readableRules(active.rules, cutPoints),
      },
      cutpoints: cutPoints && {
        version: cutPoints.version,
        computed_at: new Date(cutPoints.computed_at).toISOString(),
      },
      history,
      currency: deps.aggregateConfig.reportingCurrency,
      can_apply: request.role === 'admin',
    };
  });

  app.post('/api/v1/rules/validate', async (request) => {
    const upload = uploadOf(request);
    try {
      return { valid: true, ...validateRulesText(upload.text, upload.name) };
    } catch (err) {
      const issues = rulesIssues(err, upload.name);
      if (issues) return { valid: false, file: upload.name, issues };
      throw err;
    }
  });

  app.post('/api/v1/rules/preview', async (request) => {
    const upload = uploadOf(request);
    let rules: ReturnType<typeof parseRules>;
    try {
      rules = parseRules(upload.text, upload.name);
    } catch (err) {
      const issues = rulesIssues(err, upload.name);
      if (issues) return { valid: false, file: upload.name, issues };
      throw err;
    }
    // A dry run reads every customer's aggregates and state: one at a time per console, whoever asks.
    if (previewRunning) throw new HttpError(429, 'a rules preview is already running: try again when it has finished');
    previewRunning = true;
    const started = performance.now();
    let diff: Awaited<ReturnType<typeof diffRulesText>>;
    try {
      diff = await diffRulesText(clients, upload.text, upload.name, { aggregateConfig: deps.aggregateConfig });
    } finally {
      previewRunning = false;
    }
    deps.logger.info(
      { file: upload.name, version: rules.version, ms: Math.round(performance.now() - started) },
      'rules preview computed',
    );
    const cutPoints = diff.cutpoints && { version: diff.cutpoints.version, computed_at: 0, cuts: diff.cutpoints.cuts };
    return {
      valid: true,
      file: upload.name,
      version: rules.version,
      diff,
      dimensions: readableRules(rules, cutPoints),
      currency: deps.aggregateConfig.reportingCurrency,
    };
  });

  app.post('/api/v1/rules/apply', { config: { role: 'admin' } }, async (request, reply) => {
    const upload = uploadOf(request);
    try {
      const applied = await applyRulesText(
        clients,
        upload.text,
        upload.name,
        `console rules apply ${upload.name} (admin)`,
      );
      deps.logger.info({ version: applied.applied, apply: applied.apply, file: upload.name }, 'rules applied');
      return applied;
    } catch (err) {
      const issues = rulesIssues(err, upload.name);
      if (issues) return reply.code(400).send({ error: 'invalid rules', file: upload.name, issues });
      throw err;
    }
  });
}
