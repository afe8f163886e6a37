import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * The compose deployment (docker-compose.yml, profile `services`) in which Prometheus scrapes the services from its
 * own container. Docker is not available where this project is developed, so the file is checked structurally: the
 * services bind 0.0.0.0, every scrape target is a compose service on its HTTP_PORT, the rules file is mounted where
 * prometheus.yml loads it, and the services reach the backing stack by service name on ports it listens on.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readYaml = <T>(file: string): T => parseYaml(readFileSync(path.join(ROOT, file), 'utf8'), { merge: true }) as T;

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
}

const compose = readYaml<{ services: Record<string, ComposeService> }>('docker-compose.yml');
const prometheus = readYaml<{
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
}>('infra/prometheus/prometheus.yml');
const SERVICES = ['aggregator', 'tier-engine', 'warehouse-writer', 'destinations'];

/** host and port of `host:port`, `scheme://host:port/...` or `redis://host:port`. */
function hostPort(address: string): { host: string; port: number } {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

describe('docker-compose.yml: the services and Prometheus scraping them from another container', () => {
  it('runs each service from the repository with HTTP_HOST=0.0.0.0 and a readiness health check', () => {
    for (const name of SERVICES) {
      const svc = compose.services[name];
      expect(svc, name).toBeDefined();
      expect(svc!.command, name).toEqual(['node', '--import', 'tsx', `services/${name}/src/main.ts`]);
      expect(svc!.environment?.HTTP_HOST, name).toBe('0.0.0.0');
      expect(Number(svc!.environment?.HTTP_PORT), name).toBeGreaterThan(0);
      expect(svc!.healthcheck?.test.join(' '), name).toContain('/health/ready');
      // Built from this repository (one image for the services and the init job).
      const image = svc!.image;
      expect(Object.values(compose.services).some((s) => s.image === image && s.build?.context === '.')).toBe(true);
    }
  });

  it('scrapes every service by its compose name on its HTTP_PORT, and nothing else', () => {
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    const expected = SERVICES.map((name) => `${name}:${compose.services[name]!.environment!.HTTP_PORT}`);
    expect([...targets].sort()).toEqual([...expected].sort());
    for (const c of prometheus.scrape_configs) expect(c.metrics_path ?? '/metrics').toBe('/metrics');
  });

  it('mounts prometheus.yml and the alert rules where prometheus.yml loads them', () => {
    const volumes = compose.services.prometheus?.volumes ?? [];
    expect(volumes).toContain('./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    for (const rules of prometheus.rule_files) {
      const mounted = volumes.find((v) => v.split(':')[1] === rules);
      expect(mounted, rules).toBeDefined();
      expect(readFileSync(path.join(ROOT, mounted!.split(':')[0]!), 'utf8')).toContain('groups:');
    }
  });

  it('points the services at the backing stack by service name, on ports those containers listen on', () => {
    const kafkaEnv = compose.services.kafka!.environment!;
    const kafkaListeners = String(kafkaEnv.KAFKA_LISTENERS)
      .split(',')
      .map((l) => hostPort(l).port);
    const advertised = String(kafkaEnv.KAFKA_ADVERTISED_LISTENERS)
      .split(',')
      .map((l) => `${hostPort(l).host}:${hostPort(l).port}`);
    for (const name of [...SERVICES, 'init']) {
      const env = compose.services[name]!.environment!;
      for (const broker of String(env.KAFKA_BROKERS).split(',')) {
        const { host, port } = hostPort(broker);
        expect(compose.services[host], `${name}: ${broker}`).toBeDefined();
        expect(kafkaListeners, `${name}: ${broker}`).toContain(port);
        // After the bootstrap a client reconnects to the advertised address: it must be reachable from a container.
        expect(advertised, `${name}: ${broker}`).toContain(`${host}:${port}`);
      }
      const inside: Record<string, number> = { registry: 8080, redis: 6379, clickhouse: 8123 };
      for (const key of ['SCHEMA_REGISTRY_URL', 'REDIS_URL', 'CLICKHOUSE_URL']) {
        const { host, port } = hostPort(String(env[key]));
        expect(compose.services[host], `${name} ${key}`).toBeDefined();
        expect(port, `${name} ${key}`).toBe(inside[host]);
      }
    }
  });
});
