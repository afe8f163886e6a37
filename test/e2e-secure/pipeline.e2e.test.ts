import { describe, expect, it } from 'vitest';
import { pipelineScenario } from '../support/pipeline-scenario';
import { runEntry } from '../support/run-node';
import { leaks, secureSecrets } from '../support/secure-stack';

/**
 * The e2e pipeline scenario (test/support/pipeline-scenario.ts: aggregator → tier engine → warehouse writer in replay
 * mode, kill -9 mid-run, everything against the batch oracle) on the secured stack: Kafka SASL_SSL (SCRAM-SHA-512),
 * the registry behind basic auth over HTTPS, Redis over TLS as an ACL user, ClickHouse over HTTPS as a password user.
 * The settings come from infra/local/.secure/client.env (the e2e-secure project's environment), secrets as *_FILE.
 * Then every line the services wrote and every tierctl output of the run is searched for each secret.
 */
describe('the e2e pipeline on the secured stack', () => {
  it('runs with the secured settings (not against the plain stack)', () => {
    expect(process.env.KAFKA_SASL_MECHANISM).toBe('scram-sha-512');
    expect(process.env.KAFKA_SASL_PASSWORD_FILE).toBeTruthy();
    expect(process.env.REDIS_URL).toMatch(/^rediss:\/\//);
    expect(process.env.CLICKHOUSE_URL).toMatch(/^https:\/\//);
    expect(process.env.SCHEMA_REGISTRY_URL).toMatch(/^https:\/\//);
  });

  const output: Array<{ label: string; text: string }> = [];
  pipelineScenario({ onLine: (service, line) => output.push({ label: service, text: line }), logLevel: 'info' });

  it('tierctl status sees every secured component healthy', async () => {
    const status = await runEntry('packages/cli/src/tierctl.ts', ['status', '--json']);
    output.push({ label: 'tierctl status --json', text: status.stdout + status.stderr });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).health).toEqual({
      kafka: 'ok',
      'schema-registry': 'ok',
      redis: 'ok',
      clickhouse: 'ok',
    });
    for (const args of [['status'], ['--help'], ['cutpoints']]) {
      const run = await runEntry('packages/cli/src/tierctl.ts', args);
      output.push({ label: `tierctl ${args.join(' ')}`, text: run.stdout + run.stderr });
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
  });

  it('no secret appears in any service log line or tierctl output of the run', () => {
    const secrets = secureSecrets();
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    // The run did log (start lines, the kill -9 restarts), so the search had something to search.
    expect(output.filter((o) => !o.label.startsWith('tierctl')).length).toBeGreaterThan(10);
    expect(leaks(output, secrets)).toEqual([]);
  });
});
