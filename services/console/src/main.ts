import { exitOnConfigError } from '@tierstream/config';
import { createLogger, installShutdown, type Logger } from '@tierstream/observability';
import { type ConsoleConfig, loadConsoleConfig } from './config';
import { closeConsoleDeps, createConsoleDeps } from './deps';
import { buildConsole } from './server';

const SERVICE = 'console';

/** A running console: its base URL (http://host:port) and how to stop it (closes the server and connections). */
export interface RunningConsole {
  url: string;
  port: number;
  stop: () => Promise<void>;
}

/**
 * Starts the console on CONSOLE_HOST:CONSOLE_PORT (port 0: any free port). It starts while the stack is still coming
 * up: /health/ready says what is missing, and the pages answer once it is there.
 */
export async function startConsole(config: ConsoleConfig, logger: Logger): Promise<RunningConsole> {
  const deps = createConsoleDeps(config, logger);
  const app = await buildConsole(deps, config);
  await app.listen({ host: config.CONSOLE_HOST, port: config.CONSOLE_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.CONSOLE_PORT;
  const host = config.CONSOLE_HOST.includes(':') ? `[${config.CONSOLE_HOST}]` : config.CONSOLE_HOST;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.info({ url, host: config.CONSOLE_HOST, port }, 'console listening');
  return {
    url,
    port,
    stop: async () => {
      await app.close();
      await closeConsoleDeps(deps);
    },
  };
}

/** A logger that never writes a token: the headers that carry one are redacted wherever they appear. */
export function consoleLogger(): Logger {
  return createLogger(SERVICE).child(
    {},
    {
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'] },
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let config: ConsoleConfig;
  try {
    config = loadConsoleConfig();
  } catch (err) {
    exitOnConfigError(SERVICE, err);
  }
  const logger = consoleLogger();
  let running: RunningConsole | undefined;
  installShutdown(logger, async () => running?.stop());
  startConsole(config, logger)
    .then((c) => {
      running = c;
    })
    .catch((err: unknown) => {
      logger.fatal({ err }, 'console failed to start');
      process.exit(1);
    });
}
