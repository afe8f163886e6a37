import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { TOPIC_SCHEMA_NAMES, type TopicName } from './types';

/** schemas/ at the repository root (the .avsc files are the source of truth). */
export const DEFAULT_SCHEMAS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas');

export interface LoadedSchema {
  topic: TopicName;
  /** Absolute path of the .avsc file. */
  file: string;
  /** Record name without namespace, e.g. `OrderEvent`. */
  name: string;
  /** Full name with namespace, e.g. `io.tierstream.OrderEvent` (what a decoded writer schema reports). */
  fullName: string;
  /** The schema text as registered. */
  text: string;
  /** Parsed JSON of the schema. */
  json: avro.Schema;
  /** avsc type for local encode/decode and checks. */
  type: avro.Type;
}

/** Reads and parses schemas/<Name>.avsc for every topic. Throws with the file name when a schema is malformed. */
export function loadSchemas(dir: string = DEFAULT_SCHEMAS_DIR): Record<TopicName, LoadedSchema> {
  const out = {} as Record<TopicName, LoadedSchema>;
  for (const [topic, name] of Object.entries(TOPIC_SCHEMA_NAMES) as [TopicName, string][]) {
    const file = path.join(dir, `${name}.avsc`);
    let text: string;
    let json: avro.Schema;
    let type: avro.Type;
    try {
      text = readFileSync(file, 'utf8');
      json = JSON.parse(text) as avro.Schema;
      type = avro.Type.forSchema(json);
    } catch (err) {
      throw new Error(`cannot load schema for topic ${topic} from ${file}: ${(err as Error).message}`);
    }
    if (type.name !== undefined && shortName(type.name) !== name) {
      throw new Error(`schema file ${file} defines record ${type.name}, expected ${name} (topic ${topic})`);
    }
    out[topic] = { topic, file, name, fullName: type.name ?? name, text, json, type };
  }
  return out;
}

/** `io.tierstream.OrderEvent` → `OrderEvent`. */
export function shortName(fullName: string): string {
  const i = fullName.lastIndexOf('.');
  return i < 0 ? fullName : fullName.slice(i + 1);
}
