import { readFileSync } from 'node:fs';
import type { Logger } from '@tierstream/observability';
import { parseRules, type Rules } from '@tierstream/tiering';
import type { RulesStore, RulesVersion } from '@tierstream/tierstate';
import { Gauge, type Registry } from 'prom-client';

/**
 * Which rules the engine runs, and whether RULES_FILE still says the same (design-decisions §20). The active
 * version in Redis wins over RULES_FILE; the first engine that finds none records its file as the active version
 * (source `engine start: RULES_FILE <path>`), so every version in use is in the history. At start, and after each
 * rules change, the engine compares RULES_FILE on disk with the active version: a file edited after a version was
 * applied (or another file applied since) is not silently ignored, it is logged and counted in
 * `tierstream_rules_file_differs`, and `tierctl rules show` prints the check.
 */
export class RulesSource {
  private readonly differs: Gauge;

  constructor(
    private readonly store: RulesStore,
    private readonly file: string,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.differs = new Gauge({
      name: 'tierstream_rules_file_differs',
      help: 'RULES_FILE on disk differs from the active rules version in Redis (1), or is the same (0)',
      registers: [registry],
    });
  }

  /**
   * The active rules (recording RULES_FILE as the active version when none is), with one info line saying which
   * version is active and where it came from, and the file check. Throws RulesError when the file is needed (no
   * active version) and invalid, or the stored version does not parse.
   */
  async load(): Promise<{ rules: Rules; active: RulesVersion }> {
    let active = await this.store.active();
    if (!active) {
      const text = readFileSync(this.file, 'utf8');
      const parsed = parseRules(text, this.file);
      active = (
        await this.store
          .apply(parsed.version, text, `engine start: RULES_FILE ${this.file}`, { onlyIfNone: true })
          .catch(async (err: Error) => {
            // Another engine recorded its file first: use what it stored.
            const stored = await this.store.active();
            if (!stored) throw err;
            return { entry: stored };
          })
      ).entry;
    }
    const rules = parseRules(active.text, `redis:${this.store.keys.active()} (version ${active.version})`);
    this.logger.info(
      {
        version: active.version,
        apply: active.seq,
        source: active.source,
        appliedAt: new Date(active.appliedAt).toISOString(),
      },
      `rules ${active.version} active (apply ${active.seq}, ${active.source}, at ${new Date(active.appliedAt).toISOString()})`,
    );
    await this.check(active);
    return { rules, active };
  }

  /** Compares RULES_FILE with the active version: gauge, a warning when they differ, the check stored for tierctl. */
  async check(active: RulesVersion): Promise<boolean> {
    let text: string | null = null;
    let version: string | null = null;
    let error: string | undefined;
    try {
      text = readFileSync(this.file, 'utf8');
      version = parseRules(text, this.file).version;
    } catch (err) {
      error = (err as Error).message.split('\n')[0];
    }
    const differs = text !== active.text;
    this.differs.set(differs ? 1 : 0);
    if (differs) {
      this.logger.warn(
        { file: this.file, fileVersion: version, activeVersion: active.version, source: active.source, error },
        `RULES_FILE ${this.file} (${version === null ? 'unreadable' : `version ${version}`}) differs from the active rules ${active.version} (${active.source}): the engine uses the active version; apply the file with \`tierctl rules apply ${this.file}\` to use it`,
      );
    }
    await this.store
      .recordFileCheck({
        file: this.file,
        version,
        differs,
        activeVersion: active.version,
        checkedAt: Date.now(),
        error,
      })
      .catch((err) => this.logger.warn({ err }, 'could not record the RULES_FILE check'));
    return differs;
  }
}
