import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Destination files (`destinations/*.yaml`): one destination per file, named after the file (`vip-hook.yaml` →
 * `vip-hook`). Parsing is pure: secrets are resolved through a `SecretSource` the caller passes (the process
 * environment and the file system in the service; fixed maps in tests). Every problem is reported as
 * `<file>: <key>: <what was expected>`, so one line names the file and the key.
 */

/** A destination name: lower-case letters, digits and `-` (it names metrics, a consumer group and a DLQ topic). */
export const DESTINATION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Where a secret comes from: an environment variable or a file (e.g. a mounted secret); never written inline. */
const secretRef = z
  .strictObject({
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
      .optional(),
    file: z.string().min(1).optional(),
  })
  .refine((s) => (s.env === undefined) !== (s.file === undefined), { error: 'expected exactly one of env or file' });
export type SecretRef = z.infer<typeof secretRef>;

const httpUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) URL' },
);

const names = z.array(z.string().min(1)).min(1, { error: 'expected a non-empty list' });

/**
 * Which transitions a destination receives. Every listed criterion must hold (AND); within a list any value may
 * match (OR). `entered`/`left` together: the transition moves into one of `entered` OR out of one of `left`.
 */
const filterSchema = z.strictObject({
  dimensions: names.optional(),
  entered: names.optional(),
  left: names.optional(),
  directions: z
    .array(z.enum(['UP', 'DOWN', 'ENTER', 'LATERAL']))
    .min(1)
    .optional(),
  reasons: names.optional(),
  exclude_reasons: names.optional(),
});
export type TransitionFilter = z.infer<typeof filterSchema>;

/** Delivery tuning; every field has a default (docs/destinations.md lists them). */
const deliverySchema = z.strictObject({
  /** Attempts before an item is dead-lettered (first try included). Default 8. */
  max_attempts: z.number().int().min(1).max(100).default(8),
  /** First retry pause (ms), doubled per attempt with jitter. Default 200. */
  initial_backoff_ms: z.number().int().min(1).default(200),
  /** Longest retry pause (ms), and the cap on a Retry-After. Default 30 000. */
  max_backoff_ms: z.number().int().min(1).default(30_000),
  /** Per-request timeout (ms). Default 5 000. */
  timeout_ms: z.number().int().min(1).default(5_000),
  /** Requests in flight at once. Default 16. */
  concurrency: z.number().int().min(1).max(1_024).default(16),
  /** Requests started per second (token bucket, burst = one second's worth). Default 0 = unlimited. */
  rate_per_second: z.number().min(0).default(0),
  /** Consecutive failed requests that open the breaker. Default 10. */
  breaker_failures: z.number().int().min(1).default(10),
  /** How long an open breaker pauses the destination before one probe request (ms). Default 10 000. */
  breaker_open_ms: z.number().int().min(1).default(10_000),
});
export type DeliverySettings = z.infer<typeof deliverySchema>;

const common = {
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  filter: filterSchema.default({}),
  delivery: deliverySchema.default(deliverySchema.parse({})),
};

const webhookSchema = z.strictObject({
  kind: z.literal('webhook'),
  url: httpUrl,
  /** The HMAC-SHA256 key of the `Tierstream-Signature` header. */
  secret: secretRef,
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'expected an HTTP header name' }), z.string())
    .default({}),
  ...common,
});

export const CRM_TEMPLATES = ['zoho-crm', 'hubspot-contacts'] as const;
export type CrmTemplateId = (typeof CRM_TEMPLATES)[number];

const crmSchema = z.strictObject({
  kind: z.literal('crm-upsert'),
  template: z.enum(CRM_TEMPLATES),
  base_url: httpUrl,
  token: secretRef,
  /** zoho-crm: the module (default Contacts). */
  module: z
    .string()
    .regex(/^[A-Za-z0-9_]+$/)
    .default('Contacts'),
  /** The CRM field holding tierstream's customer id (the upsert's duplicate check / idProperty). */
  id_field: z.string().min(1),
  /** dimension → CRM field name. */
  fields: z.record(z.string().min(1), z.string().min(1)).refine((f) => Object.keys(f).length > 0, {
    error: 'expected at least one dimension: field',
  }),
  /** dimension → (tier → picklist value); a tier not listed is sent as its own name. */
  picklists: z.record(z.string(), z.record(z.string(), z.string())).default({}),
  /** Records per request; capped by the template's own limit. */
  batch_size: z.number().int().min(1).default(100),
  ...common,
});

const fileSchema = z.discriminatedUnion('kind', [webhookSchema, crmSchema], {
  error: 'expected kind webhook or crm-upsert',
});

type WebhookFile = z.infer<typeof webhookSchema>;
type CrmFile = z.infer<typeof crmSchema>;

export type WebhookDestination = Omit<WebhookFile, 'secret'> & { name: string; file: string; secret: string };
export type CrmDestination = Omit<CrmFile, 'token'> & { name: string; file: string; token: string };
export type Destination = WebhookDestination | CrmDestination;

/** Resolves secret references: `env(name)` is undefined when unset; `readFile` throws when unreadable. */
export interface SecretSource {
  env: (name: string) => string | undefined;
  readFile: (path: string) => string;
}

/** A destination file that cannot be used; `message` is one line `<file>: <key>: <problem>`. */
export class DestinationFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`${file}: ${issues.join('; ')}`);
    this.name = 'DestinationFileError';
  }
}

function issueLine(issue: z.core.$ZodIssue): string {
  const key = issue.path.map(String).join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length > 0 ? `${key}.` : '';
    return issue.keys.map((k) => `${prefix}${k}: unknown key`).join('; ');
  }
  return `${key}: ${issue.message}`;
}

function resolveSecret(ref: SecretRef, key: string, secrets: SecretSource): string {
  if (ref.env !== undefined) {
    const value = secrets.env(ref.env);
    if (value === undefined || value === '') throw new Error(`${key}: environment variable ${ref.env} is not set`);
    return value;
  }
  let text: string;
  try {
    text = secrets.readFile(ref.file!);
  } catch (err) {
    throw new Error(`${key}: cannot read secret file ${ref.file}: ${(err as Error).message}`);
  }
  const value = text.trim();
  if (value === '') throw new Error(`${key}: secret file ${ref.file} is empty`);
  return value;
}

/** The destination name of a file path: its base name without `.yaml`/`.yml`. */
export function destinationNameOf(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.ya?ml$/, '');
}

/**
 * Parses and validates one destination file's text and resolves its secret. Returns the destination (secret
 * included: never log it). Throws DestinationFileError naming the file and each bad key (unknown key, invalid URL,
 * unset secret variable, unreadable secret file, bad name).
 */
export function parseDestination(file: string, text: string, secrets: SecretSource): Destination {
  const name = destinationNameOf(file);
  if (!DESTINATION_NAME.test(name)) {
    throw new DestinationFileError(file, [`(file name): expected lower-case letters, digits and - (got "${name}")`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new DestinationFileError(file, [`(yaml): ${(err as Error).message.split('\n')[0]}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DestinationFileError(file, ['(root): expected a mapping of keys to values']);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) throw new DestinationFileError(file, result.error.issues.map(issueLine));
  const parsed = result.data;
  try {
    if (parsed.kind === 'webhook') {
      const { secret, ...rest } = parsed;
      return { ...rest, name, file, secret: resolveSecret(secret, 'secret', secrets) };
    }
    const { token, ...rest } = parsed;
    return { ...rest, name, file, token: resolveSecret(token, 'token', secrets) };
  } catch (err) {
    throw new DestinationFileError(file, [(err as Error).message]);
  }
}

/**
 * The dead-letter topic of destination `name` (one per destination, so one failing receiver's dead letters can be
 * read and replayed alone). infra/kafka/topics.yaml declares it for the shipped examples; the service creates a
 * missing one at start with the settings of `customer-tier-transitions.v1.dlq`.
 */
export function destinationDlqTopic(name: string): string {
  return `customer-tier-destinations.${name}.dlq`;
}

/** What `tierctl destinations list` shows of a destination: never its secret. */
export function describeDestination(d: Destination): Record<string, unknown> {
  const target = d.kind === 'webhook' ? d.url : `${d.template} ${d.base_url}`;
  return { name: d.name, kind: d.kind, enabled: d.enabled, target, filter: d.filter, file: d.file };
}
