import { describe, expect, it } from 'vitest';
import {
  CUSTOMER_ATTRIBUTES_FIELDS,
  CUSTOMER_SIGNAL_FIELDS,
  ENUM_SYMBOLS,
  ERASURE_REQUEST_FIELDS,
  type FieldShape,
  IDENTITY_EVENT_FIELDS,
  loadSchemas,
  ORDER_EVENT_FIELDS,
  TICKET_EVENT_FIELDS,
  TIER_CHANGE_FIELDS,
  TIER_CUT_POINTS_FIELDS,
  TIER_CUT_SET_FIELDS,
  TIER_TRANSITION_FIELDS,
  TOPIC_SCHEMA_NAMES,
  WEB_BEHAVIOR_EVENT_FIELDS,
} from '../src/index';

// The TS mirror of each record, by Avro record name.
const MIRROR: Record<string, Record<string, FieldShape>> = {
  OrderEvent: ORDER_EVENT_FIELDS,
  CustomerAttributes: CUSTOMER_ATTRIBUTES_FIELDS,
  WebBehaviorEvent: WEB_BEHAVIOR_EVENT_FIELDS,
  TicketEvent: TICKET_EVENT_FIELDS,
  CustomerSignal: CUSTOMER_SIGNAL_FIELDS,
  TierTransition: TIER_TRANSITION_FIELDS,
  TierChange: TIER_CHANGE_FIELDS,
  TierCutPoints: TIER_CUT_POINTS_FIELDS,
  TierCutSet: TIER_CUT_SET_FIELDS,
  ErasureRequest: ERASURE_REQUEST_FIELDS,
  IdentityEvent: IDENTITY_EVENT_FIELDS,
};

type AvroJson = string | AvroJson[] | { type: string; [k: string]: unknown };
interface AvroField {
  name: string;
  type: AvroJson;
}
interface AvroRecord {
  type: 'record';
  name: string;
  fields: AvroField[];
}

/** Describes an Avro field type in the mirror's vocabulary; collects nested records and enums on the way. */
function shapeOf(
  t: AvroJson,
  owner: string,
  field: string,
  records: AvroRecord[],
  enums: Map<string, string[]>,
): string {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const nonNull = t.filter((b) => b !== 'null');
    if (t.length !== 2 || nonNull.length !== 1) return `union(${t.length})`;
    return `${shapeOf(nonNull[0] as AvroJson, owner, field, records, enums)}?`;
  }
  switch (t.type) {
    case 'enum':
      enums.set(`${owner}.${field}`, t.symbols as string[]);
      return 'enum';
    case 'record':
      records.push(t as unknown as AvroRecord);
      return 'record';
    case 'array':
      return `array<${shapeOf(t.items as AvroJson, owner, field, records, enums)}>`;
    case 'map':
      return `map<${shapeOf(t.values as AvroJson, owner, field, records, enums)}>`;
    default:
      // Primitive with a logical type (timestamp-millis is still a long on the wire and a number in TS).
      return t.type;
  }
}

function describeRecord(rec: AvroRecord) {
  const records: AvroRecord[] = [];
  const enums = new Map<string, string[]>();
  const fields: Record<string, string> = {};
  for (const f of rec.fields) fields[f.name] = shapeOf(f.type, rec.name, f.name, records, enums);
  return { fields, records, enums };
}

const schemas = loadSchemas();

describe('TS mirror of schemas/*.avsc', () => {
  const seenRecords = new Set<string>();
  const seenEnums = new Set<string>();

  for (const [topic, loaded] of Object.entries(schemas)) {
    it(`${topic} → ${loaded.name}: fields, nullability, enum symbols`, () => {
      expect(loaded.name).toBe(TOPIC_SCHEMA_NAMES[topic as keyof typeof TOPIC_SCHEMA_NAMES]);
      const queue: AvroRecord[] = [loaded.json as unknown as AvroRecord];
      while (queue.length > 0) {
        const rec = queue.shift()!;
        seenRecords.add(rec.name);
        const mirror = MIRROR[rec.name];
        expect(mirror, `no TS mirror for record ${rec.name}`).toBeDefined();
        const { fields, records, enums } = describeRecord(rec);
        // Same keys in the same order as the .avsc, and the same shape per key.
        expect(Object.keys(mirror!)).toEqual(Object.keys(fields));
        expect(mirror).toEqual(fields);
        for (const [key, symbols] of enums) {
          seenEnums.add(key);
          expect(ENUM_SYMBOLS[key], `types.ts exports no symbol list for enum ${key}`).toBeDefined();
          expect([...ENUM_SYMBOLS[key]!]).toEqual(symbols);
        }
        queue.push(...records);
      }
    });
  }

  it('every mirror and every exported enum list belongs to a schema', () => {
    expect([...seenRecords].sort()).toEqual(Object.keys(MIRROR).sort());
    expect([...seenEnums].sort()).toEqual(Object.keys(ENUM_SYMBOLS).sort());
  });

  it('the shape describer tells nullable from required and sees logical types as their base type', () => {
    const records: AvroRecord[] = [];
    const enums = new Map<string, string[]>();
    expect(shapeOf(['null', 'long'], 'R', 'f', records, enums)).toBe('long?');
    expect(shapeOf({ type: 'long', logicalType: 'timestamp-millis' }, 'R', 'f', records, enums)).toBe('long');
    expect(shapeOf(['null', 'string', 'long'], 'R', 'f', records, enums)).toBe('union(3)');
    expect(shapeOf({ type: 'map', values: 'double' }, 'R', 'f', records, enums)).toBe('map<double>');
  });
});
