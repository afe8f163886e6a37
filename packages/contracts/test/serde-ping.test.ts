import { createServer } from 'node:net';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { anyCredentialFailure } from '@tierstream/config';
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

  it('any registry call (tierctl schemas register) names the registry and the cause, not just "fetch failed"', async () => {
    const port = await closedPort();
    const err = await serde(`http://127.0.0.1:${port}/apis/ccompat/v7`)
      .register('orders.v1', '{"type":"string"}')
      .catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `http://127.0.0.1:${port}/apis/ccompat/v7 unreachable: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    // tierctl's last catch tells the registry from the error: an untrusted certificate is a TLS failure (exit 2).
    const untrusted = Object.assign(new Error('https://127.0.0.1:1/apis/ccompat/v7 unreachable: x'), {
      name: (err as Error).name,
      cause: new Error('unable to verify the first certificate'),
    });
    expect(anyCredentialFailure(untrusted)).toBe(
      'schema registry TLS handshake failed: https://127.0.0.1:1/apis/ccompat/v7 unreachable: x',
    );
  });
});
