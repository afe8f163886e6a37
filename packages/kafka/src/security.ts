import type { ConnectionOptions } from 'node:tls';
import { readSettingFile, tlsSettingsOf } from '@tierstream/config';
import type { KafkaConfig, SASLOptions } from 'kafkajs';

/** The Kafka connection settings of a validated configuration (kafkaServiceSettings). */
export interface KafkaSecuritySettings {
  KAFKA_SASL_MECHANISM: 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  KAFKA_SASL_USERNAME: string;
  KAFKA_SASL_PASSWORD: string;
  KAFKA_TLS: boolean;
  KAFKA_TLS_CA_FILE: string;
  KAFKA_TLS_CERT_FILE: string;
  KAFKA_TLS_KEY_FILE: string;
}

/**
 * kafkajs `sasl` and `ssl` options from the settings: SASL when KAFKA_SASL_MECHANISM is not `none`; TLS when KAFKA_TLS
 * or a KAFKA_TLS_*_FILE is set (the CA, and the client certificate and key for mutual TLS, read now). Empty for a
 * PLAINTEXT listener. Throws an Error naming the setting when a file cannot be read.
 */
export function kafkaSecurity(settings: KafkaSecuritySettings): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (settings.KAFKA_SASL_MECHANISM !== 'none') {
    out.sasl = {
      mechanism: settings.KAFKA_SASL_MECHANISM,
      username: settings.KAFKA_SASL_USERNAME,
      password: settings.KAFKA_SASL_PASSWORD,
    } as SASLOptions;
  }
  const tls = tlsSettingsOf(settings as unknown as Record<string, unknown>, 'KAFKA');
  if (tls.mode !== 'none') {
    const ssl: ConnectionOptions = {};
    if (tls.caFile) ssl.ca = readSettingFile('KAFKA_TLS_CA_FILE', tls.caFile);
    if (tls.mode === 'mutual') {
      ssl.cert = readSettingFile('KAFKA_TLS_CERT_FILE', tls.certFile);
      ssl.key = readSettingFile('KAFKA_TLS_KEY_FILE', tls.keyFile);
    }
    out.ssl = Object.keys(ssl).length > 0 ? ssl : true;
  }
  return out;
}
