import { CredentialsRejectedError, credentialFailure } from '@tierstream/config';

/**
 * What a service waits for at start (Kafka, the schema registry): each entry becomes one `/health/ready` problem,
 * `waiting for <dependency>: <reason>`, until the dependency answered once.
 */
export class DependencyWaits {
  private readonly waiting = new Map<string, string>();

  /**
   * Marks `dependency` as waited for, with the latest reason (an error message, or what is being tried). `plain`:
   * the reason is the whole problem (`kafka authentication failed: …`), shown without the `waiting for` prefix.
   */
  set(dependency: string, reason: string, plain = false): void {
    this.waiting.set(dependency, plain ? `\0${reason}` : reason);
  }

  /** `dependency` answered: no longer a readiness problem. */
  clear(dependency: string): void {
    this.waiting.delete(dependency);
  }

  /** The readiness problems, one per dependency still waited for, in the order the waits began. */
  problems(): string[] {
    return [...this.waiting].map(([dependency, reason]) =>
      reason.startsWith('\0') ? reason.slice(1) : `waiting for ${dependency}: ${reason}`,
    );
  }
}

export interface WaitOptions {
  logger: { warn: (obj: object, msg: string) => void; info: (obj: object, msg: string) => void };
  /** First pause after a failed attempt (ms); doubled per failure, with ±20 % jitter. Default 500. */
  initialDelayMs?: number;
  /** Longest pause between attempts (ms). Default 10 000: a dependency that is back is used within ~10 s. */
  maxDelayMs?: number;
  /** The same error is logged at most once per this many ms (the readiness body always has the latest). Default 60 000. */
  logEveryMs?: number;
  /**
   * How long refused credentials or TLS trust (credentialFailure) are retried before the wait gives up with a
   * CredentialsRejectedError (ms). Default AUTH_FAILURE_GIVE_UP_MS: long enough to ride out a secret rotated on the
   * server a moment before the client, short enough that a wrong password exits well within 30 s.
   */
  authFailureGiveUpMs?: number;
}

/**
 * Default of WaitOptions.authFailureGiveUpMs: 10 s of refused credentials (retried every second), then the service
 * exits (code 2).
 */
export const AUTH_FAILURE_GIVE_UP_MS = 10_000;
/** While credentials are refused, the next attempt comes after at most this long (ms). */
const REFUSED_RETRY_MS = 1_000;

/**
 * Calls `attempt` until it resolves, pausing with capped exponential backoff between failures, and returns its
 * result. Meanwhile `waits` names `dependency` with the latest error, so `/health/ready` says what the service waits
 * for. An outage never makes it reject: a dependency outage is not fixed by restarting the process
 * (docs/operations.md §9); a SIGTERM meanwhile exits through the service's shutdown hook. Refused credentials or TLS
 * trust are different (docs/security.md "Failures"): `/health/ready` says `<dependency> authentication failed: …`
 * while it retries, and after `authFailureGiveUpMs` of nothing else it rejects with CredentialsRejectedError.
 */
export async function waitForDependency<T>(
  waits: DependencyWaits,
  dependency: string,
  attempt: () => Promise<T>,
  opts: WaitOptions,
): Promise<T> {
  const initial = opts.initialDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 10_000;
  const logEvery = opts.logEveryMs ?? 60_000;
  let delay = initial;
  let lastLogged = '';
  let lastLoggedAt = 0;
  let failures = 0;
  let refusedSince: number | null = null;
  const giveUpMs = opts.authFailureGiveUpMs ?? AUTH_FAILURE_GIVE_UP_MS;
  waits.set(dependency, 'connecting');
  for (;;) {
    try {
      const result = await attempt();
      waits.clear(dependency);
      if (failures > 0) opts.logger.info({ dependency, failures }, `${dependency} reachable: continuing the start`);
      return result;
    } catch (err) {
      failures++;
      const refused = credentialFailure(dependency, err);
      const reason = refused ?? ((err as Error).message || String(err));
      waits.set(dependency, reason, refused !== null);
      if (refused === null) refusedSince = null;
      else {
        refusedSince ??= Date.now();
        if (Date.now() - refusedSince >= giveUpMs) {
          waits.clear(dependency);
          throw new CredentialsRejectedError(dependency, refused);
        }
      }
      if (reason !== lastLogged || Date.now() - lastLoggedAt >= logEvery) {
        lastLogged = reason;
        lastLoggedAt = Date.now();
        opts.logger.warn({ dependency, err: reason, retryInMs: delay }, `waiting for ${dependency}: retrying`);
      }
    }
    // Refused credentials are retried every second up to the give-up (the server may be a moment ahead in a rotation).
    const pause =
      refusedSince === null ? delay : Math.min(delay, REFUSED_RETRY_MS, giveUpMs - (Date.now() - refusedSince));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.round(pause * (0.8 + Math.random() * 0.4)))));
    delay = Math.min(max, delay * 2);
  }
}
