import { Agent as HttpsAgent } from 'node:https';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { readSettingFile, redactSecret, STACK_DEFAULTS } from '@tierstream/config';
import type avro from 'avsc';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { DEFAULT_SCHEMAS_DIR, loadSchemas } from './schemas';

/** Thrown by register when the registry refuses a schema as incompatible with the registered versions. */
export class SchemaCompatibilityError extends Error {
  constructor(
    readonly subject: string,
    readonly registryMessage: string,
  ) {
    super(`schema for subject ${subject} is not BACKWARD compatible with the registered version: ${registryMessage}`);
    this.name = 'SchemaCompatibilityError';
  }
}

/** The bytes are not a Confluent-framed Avro message that the writer schema can read. */
export class UndecodableMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndecodableMessageError';
  }
}

/** The registry does not know the schema id in the message header. */
export class UnknownSchemaIdError extends Error {
  constructor(readonly schemaId: number) {
    super(`schema id ${schemaId} is not known to the registry`);
    this.name = 'UnknownSchemaIdError';
  }
}

export interface DecodedMessage {
  value: unknown;
  schemaId: number;
  /** Full name of the writer schema, e.g. `io.tierstream.OrderEvent`. */
  schemaName: string;
}

export interface AvroSerdeOptions {
  /** Base URL of the registry's Confluent-compatible API, for the per-subject compatibility config. */
  registryUrl?: string;
  /** Subject of a topic's value schema. Default `<topic>-value` (Confluent TopicNameStrategy). */
  subjectOf?: (topic: string) => string;
  /** Basic auth of the serde's own calls (compatibility config, ping); createAvroSerde sets it with the library's. */
  auth?: { username: string; password: string };
  /** PEM CA of an https registry signed by a private CA (the serde's own calls). */
  ca?: Buffer;
}

/** The schema registry settings of a validated configuration (kafkaServiceSettings). */
export interface RegistrySettings {
  SCHEMA_REGISTRY_URL: string;
  SCHEMA_REGISTRY_USERNAME: string;
  SCHEMA_REGISTRY_PASSWORD: string;
  SCHEMA_REGISTRY_TLS_CA_FILE: string;
}

/**
 * The Avro serde of a validated configuration: the registry client and the serde's own calls both with basic auth
 * (SCHEMA_REGISTRY_USERNAME / SCHEMA_REGISTRY_PASSWORD) and, for an https registry with a private CA,
 * SCHEMA_REGISTRY_TLS_CA_FILE. Throws an Error naming the setting when the CA file cannot be read.
 */
export function createAvroSerde(
  settings: RegistrySettings,
  opts: Omit<AvroSerdeOptions, 'auth' | 'ca'> = {},
): AvroSerde {
  const auth = settings.SCHEMA_REGISTRY_USERNAME
    ? { username: settings.SCHEMA_REGISTRY_USERNAME, password: settings.SCHEMA_REGISTRY_PASSWORD }
    : undefined;
  const ca = settings.SCHEMA_REGISTRY_TLS_CA_FILE
    ? readSettingFile('SCHEMA_REGISTRY_TLS_CA_FILE', settings.SCHEMA_REGISTRY_TLS_CA_FILE)
    : undefined;
  const registry = new SchemaRegistry({
    host: settings.SCHEMA_REGISTRY_URL,
    ...(auth ? { auth } : {}),
    ...(ca ? { agent: new HttpsAgent({ ca, keepAlive: true }) } : {}),
  });
  return new AvroSerde(registry, { registryUrl: settings.SCHEMA_REGISTRY_URL, ...opts, auth, ca });
}

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body. */
export const WIRE_HEADER_BYTES = 5;

/**
 * Avro serde over a Confluent-compatible schema registry. Encode looks the subject's latest schema id up once per
 * topic and caches it (the library caches schemas by id, for decode).
 */
export class AvroSerde {
  readonly registryUrl: string;
  private readonly subjectOfTopic: (topic: string) => string;
  private readonly idByTopic = new Map<string, number>();
  // In-flight lookups, shared: the first batch after a start decodes thousands of records at once, and the library's
  // own cache is only filled after its registry answer, so every concurrent miss would build the avsc Type again
  // (seconds of CPU and garbage at start) and every concurrent encode would ask for the latest id again.
  private readonly idLookups = new Map<string, Promise<number>>();
  private readonly writerById = new Map<number, avro.Type>();
  private readonly writerLookups = new Map<number, Promise<avro.Type>>();
  /** encodeIfCached's buffer (grown when a message does not fit). */
  private scratch = Buffer.allocUnsafe(4096);
  private readonly authHeader: Record<string, string>;
  private readonly request: (url: string, init: RequestInit) => Promise<Response>;

  constructor(
    readonly registry: SchemaRegistry,
    opts: AvroSerdeOptions = {},
  ) {
    this.registryUrl = (
      opts.registryUrl ??
      process.env.SCHEMA_REGISTRY_URL ??
      STACK_DEFAULTS.SCHEMA_REGISTRY_URL
    ).replace(/\/+$/, '');
    this.subjectOfTopic = opts.subjectOf ?? ((topic) => `${topic}-value`);
    this.authHeader = opts.auth
      ? {
          authorization: `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`,
        }
      : {};
    // Node's fetch takes no CA; undici's own fetch does, through a dispatcher of the same undici.
    const dispatcher = opts.ca ? new UndiciAgent({ connect: { ca: opts.ca } }) : undefined;
    this.request = dispatcher
      ? (url, init) =>
          undiciFetch(url, {
            ...(init as Parameters<typeof undiciFetch>[1]),
            dispatcher,
          }) as unknown as Promise<Response>
      : (url, init) => fetch(url, init);
  }

  /**
   * GET `<registry>/<path>` with the serde's credentials and CA (e.g. `subjects`); for health checks. A request that
   * gets no answer (refused, timed out, an untrusted certificate) rejects with a SchemaRegistryError
   * `<registry URL> unreachable: <cause>` (the URL's password shown as `***`), the fetch error as its cause: fetch
   * itself says only "fetch failed", and tierctl tells the registry from the error's name.
   */
  async fetchRegistry(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await this.request(`${this.registryUrl}/${path}`, {
        ...init,
        headers: { ...this.authHeader, ...(init.headers as Record<string, string> | undefined) },
      });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      const shown = String(
        redactSecret('SCHEMA_REGISTRY_URL', `${this.registryUrl} unreachable: ${cause ?? (err as Error).message}`),
      );
      throw Object.assign(new Error(shown, { cause: err }), { name: 'SchemaRegistryError' });
    }
  }

  subjectOf(topic: string): string {
    return this.subjectOfTopic(topic);
  }

  /** Registers every topic's schema from schemasDir (BACKWARD per subject). Returns subject → schema id. */
  async registerAll(schemasDir: string = DEFAULT_SCHEMAS_DIR): Promise<Record<string, number>> {
    const schemas = loadSchemas(schemasDir);
    const ids: Record<string, number> = {};
    for (const s of Object.values(schemas)) {
      ids[this.subjectOf(s.topic)] = await this.register(s.topic, s.text);
    }
    return ids;
  }

  /**
   * Registers one schema (JSON text) under the topic's subject with compatibility BACKWARD. Registering the same
   * schema again returns the existing id. Throws SchemaCompatibilityError when the registry refuses the change.
   */
  async register(topic: string, schemaText: string): Promise<number> {
    const subject = this.subjectOf(topic);
    // Set the subject's compatibility first; a registry may refuse config for a subject that does not exist yet,
    // in which case the library sets it right after the first registration, and we set it again below.
    const preConfigured = await this.setBackward(subject);
    let id: number;
    try {
      ({ id } = await this.registry.register(
        { type: SchemaType.AVRO, schema: schemaText },
        { subject, compatibility: COMPATIBILITY.BACKWARD },
      ));
    } catch (err) {
      const status = (err as { status?: number }).status;
      const message = registryMessage(err);
      if (status === 409 || /compatib/i.test(message)) throw new SchemaCompatibilityError(subject, message);
      throw new Error(`registering schema for subject ${subject} failed: ${message}`, { cause: err });
    }
    if (!preConfigured) await this.setBackward(subject, true);
    this.idByTopic.set(topic, id);
    return id;
  }

  /**
   * Sets compatibility BACKWARD on the subject (PUT /config/<subject>). Returns false when the registry does not
   * know the subject yet (unless required).
   */
  async setBackward(subject: string, required = false): Promise<boolean> {
    const res = await this.fetchRegistry(`config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    if (res.ok) return true;
    const body = await readBody(res);
    if (!required && res.status === 404) return false;
    throw new Error(`setting compatibility BACKWARD for subject ${subject} failed: HTTP ${res.status} ${body}`);
  }

  /**
   * Whether the registry answers (GET /subjects within `timeoutMs`). Throws an Error naming the URL and the cause
   * (connection refused, timeout, HTTP status) otherwise; services retry it at start (`waiting for schema registry`).
   */
  async ping(timeoutMs = 2_000): Promise<void> {
    // Shown on /health/ready and in logs: never with the password of the URL's user info.
    const shown = (text: string) => String(redactSecret('SCHEMA_REGISTRY_URL', text));
    // fetchRegistry's error names the URL and the cause.
    const res = await this.fetchRegistry('subjects', { signal: AbortSignal.timeout(timeoutMs) });
    await readBody(res);
    if (!res.ok) throw new Error(shown(`${this.registryUrl}/subjects answered HTTP ${res.status}`));
  }

  /** The schema id encode uses for a topic: the registered id, else the subject's latest version (cached). */
  async schemaIdOf(topic: string): Promise<number> {
    const cached = this.idByTopic.get(topic);
    if (cached !== undefined) return cached;
    let lookup = this.idLookups.get(topic);
    if (lookup === undefined) {
      lookup = this.registry.getLatestSchemaId(this.subjectOf(topic)).finally(() => this.idLookups.delete(topic));
      this.idLookups.set(topic, lookup);
    }
    const id = await lookup;
    this.idByTopic.set(topic, id);
    return id;
  }

  async encode<T>(topic: string, value: T): Promise<Buffer> {
    const id = await this.schemaIdOf(topic);
    // Prime the library's cache through the shared lookup (its own misses each build the type); errors surface from
    // the library's call below, as before.
    if (!this.writerById.has(id)) await this.writerOf(id).catch(() => undefined);
    return this.registry.encode(id, value);
  }

  /** The topic's schema id if it is already known (no registry call), else undefined. */
  cachedSchemaId(topic: string): number | undefined {
    return this.idByTopic.get(topic);
  }

  /**
   * encode without promises when the topic's schema id and type are cached (the hot path); undefined otherwise, and
   * when the value does not fit the schema (then encode gives the library's validation error).
   */
  encodeIfCached<T>(topic: string, value: T): Buffer | undefined {
    const id = this.idByTopic.get(topic);
    const type = id === undefined ? undefined : this.writerById.get(id);
    if (id === undefined || type === undefined) return undefined;
    // Header and body written into a scratch buffer, then one copy of the size of the message (toBuffer's own buffer
    // and a second copy with the header were two buffers per message: one signal per customer and batch).
    let end: number;
    try {
      end = type.encode(value, this.scratch, WIRE_HEADER_BYTES);
      if (end < 0) {
        // Too small by -end bytes: grow to a power of two that fits, once.
        this.scratch = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(this.scratch.length - end)));
        end = type.encode(value, this.scratch, WIRE_HEADER_BYTES);
      }
    } catch {
      return undefined;
    }
    const out = Buffer.allocUnsafe(end);
    this.scratch.copy(out, 0, 0, end);
    out[0] = 0;
    out.writeInt32BE(id, 1);
    return out;
  }

  /**
   * Decodes a Confluent-framed Avro message with its writer schema. Throws UndecodableMessageError (bad framing or
   * body), UnknownSchemaIdError (registry answers 404 for the id); anything else (registry down) is rethrown as is,
   * because it is transient and must not send the message to a dead-letter topic.
   */
  async decode(buffer: Buffer): Promise<DecodedMessage> {
    return this.decodeIfCached(buffer) ?? this.decodeWith(buffer, await this.writerOf(buffer.readInt32BE(1)));
  }

  /**
   * decode without a promise when the writer schema is already cached (the hot path: one promise per record is
   * garbage); undefined when it is not (then use decode). Throws like decode.
   */
  decodeIfCached(buffer: Buffer): DecodedMessage | undefined {
    checkFraming(buffer);
    const schemaId = buffer.readInt32BE(1);
    const writer = this.writerById.get(schemaId);
    return writer === undefined ? undefined : this.decodeWith(buffer, writer, schemaId);
  }

  private decodeWith(buffer: Buffer, writer: avro.Type, schemaId = buffer.readInt32BE(1)): DecodedMessage {
    // The writer type is already resolved (and cached by id): decode the Avro body with it directly, in place (no
    // view of the body per record). A body that does not end where the message does (truncated, trailing bytes) or
    // does not decode goes through fromBuffer, whose error the dead letter carries.
    let value: unknown;
    let read: { value: unknown; offset: number } | undefined;
    try {
      read = writer.decode(buffer, WIRE_HEADER_BYTES);
    } catch {
      read = undefined;
    }
    if (read !== undefined && read.offset === buffer.length) value = read.value;
    else
      try {
        value = writer.fromBuffer(buffer.subarray(WIRE_HEADER_BYTES));
      } catch (err) {
        throw new UndecodableMessageError(`cannot decode with schema id ${schemaId}: ${(err as Error).message}`);
      }
    return { value, schemaId, schemaName: writer.name ?? String(writer.typeName) };
  }

  /** The writer type of a schema id, built once (concurrent first lookups share one registry request and build). */
  private async writerOf(schemaId: number): Promise<avro.Type> {
    let lookup = this.writerLookups.get(schemaId);
    if (lookup === undefined) {
      lookup = (this.registry.getSchema(schemaId) as Promise<avro.Type>).finally(() =>
        this.writerLookups.delete(schemaId),
      );
      this.writerLookups.set(schemaId, lookup);
    }
    try {
      const writer = await lookup;
      this.writerById.set(schemaId, writer);
      return writer;
    } catch (err) {
      if (isNotFound(err)) throw new UnknownSchemaIdError(schemaId);
      throw err;
    }
  }
}

function checkFraming(buffer: Buffer): void {
  if (buffer.length < WIRE_HEADER_BYTES || buffer[0] !== 0) {
    throw new UndecodableMessageError(
      buffer.length < WIRE_HEADER_BYTES
        ? `message of ${buffer.length} bytes is shorter than the ${WIRE_HEADER_BYTES}-byte Confluent header`
        : `message starts with byte ${buffer[0]}, not the Confluent magic byte 0`,
    );
  }
}

async function readBody(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch {
    return '';
  }
}

function isNotFound(err: unknown): boolean {
  const status = (err as { status?: number } | null)?.status;
  // Confluent: 404 with error_code 40403 "Schema not found"; Apicurio's ccompat API answers the same way.
  return status === 404 || (status === undefined && /not found|40403/i.test(String((err as Error)?.message)));
}

/** The registry's own words, without the client library's "<clientId> - " prefix. */
function registryMessage(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  // Apicurio prefixes its messages with the Java exception class; keep only the explanation.
  return message.replace(/^[\w.-]+ - /, '').replace(/^(?:[a-z]\w*\.)+\w*Exception: /, '');
}
