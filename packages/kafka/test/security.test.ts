import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kafkaServiceSettings, loadConfig } from '@tierstream/config';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closedConnectionHint, kafkaSecurity } from '../src';

const schema = z.object(kafkaServiceSettings);
const dir = mkdtempSync(path.join(tmpdir(), 'tierstream-kafka-security-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('kafkaSecurity: kafkajs options from the settings', () => {
  it('nothing for a PLAINTEXT listener (the defaults)', () => {
    expect(kafkaSecurity(loadConfig(schema, {}))).toEqual({});
  });

  it('SASL with the mechanism, user and password (from its file); TLS with the CA read', () => {
    const options = kafkaSecurity(
      loadConfig(schema, {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD_FILE: file('pw', 's3cret\n'),
        KAFKA_TLS_CA_FILE: file('ca.pem', 'THE-CA'),
      }),
    );
    expect(options.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'svc', password: 's3cret' });
    expect(String((options.ssl as { ca: Buffer }).ca)).toBe('THE-CA');
  });

  it('KAFKA_TLS alone trusts the system CAs (ssl: true); a certificate and key make it mutual TLS', () => {
    expect(kafkaSecurity(loadConfig(schema, { KAFKA_TLS: 'true' })).ssl).toBe(true);
    const mutual = kafkaSecurity(
      loadConfig(schema, { KAFKA_TLS_CERT_FILE: file('c.pem', 'CERT'), KAFKA_TLS_KEY_FILE: file('k.pem', 'KEY') }),
    ).ssl as { cert: Buffer; key: Buffer };
    expect([String(mutual.cert), String(mutual.key)]).toEqual(['CERT', 'KEY']);
  });
});

describe('closedConnectionHint: a broker that closes the connection of a client without SASL or TLS', () => {
  const closed = Object.assign(new Error('Closed connection'), { name: 'KafkaJSConnectionClosedError' });
  it('names the settings the client lacks', () => {
    expect(closedConnectionHint({}, closed)).toBe(
      'the broker closed the connection: does its listener need SASL (KAFKA_SASL_MECHANISM) or TLS (KAFKA_TLS)?',
    );
    expect(closedConnectionHint({ ssl: true }, new Error('x', { cause: closed }))).toBe(
      'the broker closed the connection: does its listener need SASL (KAFKA_SASL_MECHANISM)?',
    );
  });
  it('nothing for a client with both, or another error', () => {
    const both = { ssl: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' } } as const;
    expect(closedConnectionHint(both, closed)).toBeNull();
    expect(closedConnectionHint({}, new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBeNull();
  });
});
