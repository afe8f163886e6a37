import { createServer } from 'node:net';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { AvroSerde } from '../src';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('AvroSerde.ping: the error /health/ready shows while the registry is waited for', () => {
  const serde = (url: string) => new AvroSerde({} as SchemaRegistry, { registryUrl: url });

  it('names the URL and the cause, without the password of a URL with user info', async () => {
    const port = await closedPort();
    await expect(serde(`http://127.0.0.1:${port}/apis/ccompat/v7`).ping()).rejects.toThrow(
      `http://127.0.0.1:${port}/apis/ccompat/v7 unreachable: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    const err = await serde(`http://svc:hunter2@127.0.0.1:${port}/apis/ccompat/v7`)
      .ping()
      .catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^http:\/\/svc:\*\*\*@127\.0\.0\.1:\d+\/apis\/ccompat\/v7 unreachable: /);
    expect((err as Error).message).not.toContain('hunter2');
  });
});
