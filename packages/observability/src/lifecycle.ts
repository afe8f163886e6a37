import type { Logger } from 'pino';

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
