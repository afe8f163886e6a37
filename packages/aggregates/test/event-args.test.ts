import type { InputEvent } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { ARGS_PER_EVENT, encodeEvent, encodeEventInto, eventFingerprint, FINGERPRINT_LENGTH } from '../src/keyspace';

const ticket = (ticketId: string, eventId: string): InputEvent => ({
  kind: 'ticket',
  event: {
    event_id: eventId,
    customer_id: 'c',
    ticket_id: ticketId,
    type: 'SATISFACTION_RATED',
    category: 'GENERAL',
    priority: 'LOW',
    csat: 4,
    occurred_at: 1_750_000_000_123,
  },
});

describe('encodeEventInto (the packed ARGV of apply_events.lua)', () => {
  it('packs the 9 fields of encodeEvent as topic,partition,offset,occurred_at,op,x2,x3,x1 + fingerprint and event_id', () => {
    const e = ticket('T,1,with,commas', 'id,with,commas');
    const out: string[] = ['before'];
    encodeEventInto(out, e, 'tickets.v1', 3, '0042', DEFAULT_AGGREGATE_CONFIG);
    expect(out.length).toBe(1 + ARGS_PER_EVENT);
    const [topic, partition, offset, eventId, at, op, x1, x2, x3] = encodeEvent(
      e,
      'tickets.v1',
      3,
      '0042',
      DEFAULT_AGGREGATE_CONFIG,
    );
    expect(out.slice(1)).toEqual([
      [topic, partition, offset, at, op, x2, x3, x1].join(','),
      eventFingerprint(eventId!) + eventId,
    ]);
    expect(out[1]).toBe('tickets.v1,3,42,1750000000123,T,S,4,T,1,with,commas');
    // The script splits at the first 7 commas only: x1 keeps its commas.
    const packed = out[1]!;
    let rest = packed;
    for (let k = 0; k < 7; k++) rest = rest.slice(rest.indexOf(',') + 1);
    expect(rest).toBe('T,1,with,commas');
    expect(() => encodeEventInto([], e, 'tickets.v1', 3, '4x', DEFAULT_AGGREGATE_CONFIG)).toThrow();
  });
});

describe('eventFingerprint (the dedupe memory of apply_events.lua)', () => {
  it('is 9 characters of 7 bits, the same for the same id, different for close ids', () => {
    const fp = eventFingerprint('E20260630-000000001');
    expect(fp.length).toBe(FINGERPRINT_LENGTH);
    expect(Buffer.byteLength(fp, 'utf8')).toBe(FINGERPRINT_LENGTH);
    expect(eventFingerprint('E20260630-000000001')).toBe(fp);
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(eventFingerprint(`E20260630-${String(i).padStart(9, '0')}`));
    expect(seen.size).toBe(100_000);
  });

  it('sends web events with the fingerprint only, orders and tickets with the id after it', () => {
    const out: string[] = [];
    const web: InputEvent = {
      kind: 'web',
      event: {
        event_id: 'w-1',
        customer_id: 'c',
        anonymous_id: null,
        type: 'SEARCH',
        url: null,
        content_id: null,
        occurred_at: 1_750_000_000_000,
      },
    };
    encodeEventInto(out, web, 'web-behavior.v1', 0, '7', DEFAULT_AGGREGATE_CONFIG);
    expect(out[1]).toBe(eventFingerprint('w-1'));
  });
});
