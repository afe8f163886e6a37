import { redactSecret } from './env';
import { STACK_DEFAULTS, type StackEndpoints } from './stack';

/**
 * Which endpoints the commands that wipe or write data (`npm run demo`, `npm run bench`, `tierctl gen`,
 * `tierctl replay cdnow`) run against without being told otherwise.
 *
 * The criterion: an endpoint is the local stack when its host is a loopback address (`localhost`, `127.0.0.0/8`,
 * `::1`) AND its port is the local stack's port from STACK_DEFAULTS (Kafka 19092, Redis 16379, ClickHouse 18123).
 * Loopback alone is not enough: `kubectl port-forward` and SSH tunnels put remote (production) servers on loopback,
 * usually on their native ports (9092, 6379, 8123). Every other endpoint, including a second local stack on other
 * ports, needs `--i-know-this-wipes <endpoint>` naming exactly that endpoint (the setting's value).
 */

/** The stores a command wipes or writes. */
export type StackPart = 'kafka' | 'redis' | 'clickhouse';

/** What a command would do to one store, in a reader's words ("delete and re-create topics a, b"). */
export interface WipeAction {
  part: StackPart;
  what: string;
}

const SETTING: Record<StackPart, 'KAFKA_BROKERS' | 'REDIS_URL' | 'CLICKHOUSE_URL'> = {
  kafka: 'KAFKA_BROKERS',
  redis: 'REDIS_URL',
  clickhouse: 'CLICKHOUSE_URL',
};

const portOf = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
const LOCAL_PORT: Record<StackPart, number> = {
  kafka: portOf(STACK_DEFAULTS.KAFKA_BROKERS),
  redis: Number(new URL(STACK_DEFAULTS.REDIS_URL).port),
  clickhouse: Number(new URL(STACK_DEFAULTS.CLICKHOUSE_URL).port),
};

/** Is `host` a loopback address? `localhost`, any 127.x.y.z, `::1` (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** host and port of one `host:port` (IPv6 in brackets) or URL; null when it cannot be read. */
function hostPort(endpoint: string, defaultPort: number): { host: string; port: number } | null {
  try {
    const url = new URL(endpoint.includes('://') ? endpoint : `tcp://${endpoint}`);
    return { host: url.hostname, port: url.port === '' ? defaultPort : Number(url.port) };
  } catch {
    return null;
  }
}

/**
 * The setting and value naming the endpoint of `part` (KAFKA_BROKERS is the comma-joined bootstrap list, as set).
 */
export function endpointSetting(part: StackPart, endpoints: StackEndpoints): { setting: string; value: string } {
  const value =
    part === 'kafka'
      ? endpoints.kafkaBrokers.join(',')
      : part === 'redis'
        ? endpoints.redisUrl
        : endpoints.clickhouseUrl;
  return { setting: SETTING[part], value };
}

/**
 * Is `value` (the setting's value) the local stack of `part`? Every server it names (each Kafka broker; each seed
 * node of a `redis-cluster://` URL) must be on a loopback host at the local stack's port.
 */
export function isLocalStackEndpoint(part: StackPart, value: string): boolean {
  const defaults = { kafka: 9092, redis: 6379, clickhouse: 8123 } as const;
  const servers =
    part === 'kafka'
      ? value.split(',')
      : value.startsWith('redis-cluster://')
        ? value.slice('redis-cluster://'.length).split(',')
        : [value];
  const list = servers.map((s) => s.trim()).filter(Boolean);
  return (
    list.length > 0 &&
    list.every((s) => {
      const hp = hostPort(s, defaults[part]);
      return hp !== null && isLoopbackHost(hp.host) && hp.port === LOCAL_PORT[part];
    })
  );
}

/** The decision: null when the command may run, else the one-line refusal (names the setting and the way round). */
export interface WipeDecision {
  /** One line per store: endpoint and what the command would do there. */
  plan: string[];
  refusal: string | null;
}

/**
 * Decides whether a command that wipes or writes may run: every store it touches is the local stack, or its
 * endpoint (the setting's exact value, or that value with the URL's password as `***`, as the plan prints it) is
 * among `confirmed` (the values of --i-know-this-wipes). Pure.
 */
export function decideWipe(
  command: string,
  endpoints: StackEndpoints,
  actions: readonly WipeAction[],
  confirmed: readonly string[] = [],
): WipeDecision {
  const plan: string[] = [];
  let refusal: string | null = null;
  for (const action of actions) {
    const { setting, value } = endpointSetting(action.part, endpoints);
    // Printed and confirmed without the password of the URL's user info (`redis://user:***@host:6379`).
    const shown = String(redactSecret(setting, value));
    plan.push(`${setting}=${shown}: ${action.what}`);
    const named = confirmed.includes(value) || confirmed.includes(shown);
    if (refusal !== null || isLocalStackEndpoint(action.part, value) || named) continue;
    refusal =
      `${setting}=${shown} is not the local stack (a loopback host on port ${LOCAL_PORT[action.part]}) and ` +
      `${command} would ${action.what} there; to run it anyway give --i-know-this-wipes ${shown}`;
  }
  return { plan, refusal };
}
