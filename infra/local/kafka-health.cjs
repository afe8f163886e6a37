// Exits 0 when the Kafka broker at argv[2] answers a metadata request with itself as an active broker.
// A TCP connect alone is not enough: a KRaft broker accepts connections before it is unfenced.
// Used by infra/local/stack.sh; plain CommonJS so that it runs with `node` and no transpiler (fast).
const { Kafka, logLevel } = require('kafkajs');

const broker = process.argv[2] || '127.0.0.1:19092';
const kafka = new Kafka({
  clientId: 'stack-health',
  brokers: [broker],
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
