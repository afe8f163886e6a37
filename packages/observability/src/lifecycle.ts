import { CredentialsRejectedError, exitOnConfigError, loadConfig } from '@tierstream/config';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { createLogger } from './logger';

/**
 * Graceful shutdown on SIGTERM/SIGINT: run `stop` (finish the batch in flight, flush, commit, disconnect) and exit 0;
 * if it takes longer than `timeoutMs`, exit 1 so a supervisor knows the stop was not clean. A second signal
 * during the stop exits at once.
 */
export function installShutdown(logger: Logger, stop: (signal: string) => Promise<void>, timeoutMs = 30_000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs }, 'shutting down: finishing the current batch');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop(signal)
      .then(() => {
        logger.info('stopped cleanly');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * The entry point of a service process: validate the configuration (an invalid value exits 2 with one line naming
 * the variable), install the graceful shutdown BEFORE starting (a SIGTERM while the service still waits for its
 * dependencies exits 0 at once: nothing consumed yet, nothing to commit), then start it; a failed start exits 1,
 * refused credentials (CredentialsRejectedError) exit 2 (exitOnStartFailure).
 */
export function runServiceMain<S extends z.ZodObject>(
  service: string,
  schema: S,
  run: (config: z.infer<S>, logger: Logger) => Promise<{ stop: () => Promise<void> }>,
): void {
  let config: z.infer<S>;
  try {
    config = loadConfig(schema);
  } catch (err) {
    exitOnConfigError(service, err);
  }
  const logger = createLogger(service);
  let running: { stop: () => Promise<void> } | undefined;
  installShutdown(logger, async () => running?.stop());
  run(config, logger)
    .then((svc) => {
      running = svc;
    })
    .catch((err: unknown) => exitOnStartFailure(service, logger, err));
}

/**
 * How a service ends when its start fails: refused credentials or TLS trust (CredentialsRejectedError) are a
 * configuration problem: one line `<service>: <dependency> authentication failed: …` on stderr (and the same as a
 * fatal log line, without a stack), exit 2; anything else is logged with its stack, exit 1.
 */
export function exitOnStartFailure(service: string, logger: Logger, err: unknown): never {
  if (err instanceof CredentialsRejectedError) {
    logger.fatal({ dependency: err.dependency }, err.message);
    process.stderr.write(`${service}: ${err.message}\n`);
    // pino writes synchronously to stdout by default; exit after the line is out.
    process.exit(2);
  }
  logger.fatal({ err }, `${service} failed to start`);
  process.exit(1);
}
