// Exits 0 when the Kafka broker at argv[2] answers a metadata request with itself as an active broker.
// A TCP connect alone is not enough: a KRaft broker accepts connections before it is unfenced.
// Used by infra/local/stack.sh; plain CommonJS so that it runs with `node` and no transpiler (fast).
// KAFKA_HEALTH_CLIENT_ENV: the secured stack's client.env (SASL_SSL with its user, password file and CA).
const fs = require('node:fs');
const { Kafka, logLevel } = require('kafkajs');

const broker = process.argv[2] || '127.0.0.1:19092';
const security = {};
if (process.env.KAFKA_HEALTH_CLIENT_ENV) {
  const settings = Object.fromEntries(
    fs
      .readFileSync(process.env.KAFKA_HEALTH_CLIENT_ENV, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  security.ssl = { ca: fs.readFileSync(settings.KAFKA_TLS_CA_FILE) };
  security.sasl = {
    mechanism: settings.KAFKA_SASL_MECHANISM,
    username: settings.KAFKA_SASL_USERNAME,
    password: fs.readFileSync(settings.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim(),
  };
}
const kafka = new Kafka({
  clientId: 'stack-health',
  brokers: [broker],
  ...security,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2000,
  requestTimeout: 3000,
  retry: { retries: 0 },
});
const admin = kafka.admin();
const timer = setTimeout(() => process.exit(1), 6000);
admin
  .connect()
  .then(() => admin.describeCluster())
  .then((cluster) => {
    clearTimeout(timer);
    const ok = cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller !== undefined;
    return admin.disconnect().then(() => process.exit(ok ? 0 : 1));
  })
  .catch(() => process.exit(1));
