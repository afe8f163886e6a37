import { createServer } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createKafka, topicPartitions } from '../src';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('topicPartitions: the start probe of every service', () => {
  it('fails at once with the connection error against an unreachable broker, logging nothing itself', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
    const kafka = createKafka({ brokers: [`127.0.0.1:${await closedPort()}`], clientId: 'probe-test', logger });
    const started = Date.now();
    await expect(topicPartitions(kafka, ['orders.v1'])).rejects.toThrow(/ECONNREFUSED/);
    // /health/ready says `waiting for kafka: <this error>` after the first attempt, not "connecting" for ~25 s.
    expect(Date.now() - started).toBeLessThan(3_000);
    // The caller (waitForDependency) logs one warning per distinct error; kafkajs' own error lines would repeat.
    expect(lines).toEqual([]);
  });
});
