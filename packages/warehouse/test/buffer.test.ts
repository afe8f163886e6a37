import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowBuffer } from '../src/buffer';

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RowBuffer', () => {
  it('is due by count', () => {
    const c = clock();
    const b = new RowBuffer<number>({ maxRows: 3, maxAgeMs: 10_000, now: c.now });
    expect(b.shouldFlush()).toBe(false);
    b.push(1, 2);
    expect(b.shouldFlush()).toBe(false);
    b.push(3);
    expect(b.shouldFlush()).toBe(true);
    expect(b.msUntilDue()).toBe(0);
  });

  it('is due by age of the oldest row, not the newest', () => {
    const c = clock();
    const b = new RowBuffer<string>({ maxRows: 100, maxAgeMs: 500, now: c.now });
    expect(b.msUntilDue()).toBeUndefined();
    b.push('a');
    c.advance(300);
    b.push('b');
    expect(b.shouldFlush()).toBe(false);
    expect(b.msUntilDue()).toBe(200);
    c.advance(199);
    expect(b.shouldFlush()).toBe(false);
    c.advance(1);
    expect(b.shouldFlush()).toBe(true);
  });

  it('empty is never due, and take() resets the age', () => {
    const c = clock();
    const b = new RowBuffer<number>({ maxRows: 2, maxAgeMs: 100, now: c.now });
    c.advance(1_000);
    expect(b.shouldFlush()).toBe(false);
    b.push(1);
    c.advance(100);
    expect(b.take()).toEqual([1]);
    expect(b.size).toBe(0);
    expect(b.shouldFlush()).toBe(false);
    b.push(2);
    expect(b.ageMs()).toBe(0);
    expect(b.shouldFlush()).toBe(false);
  });

  it('take(max) returns the oldest rows first and keeps the rest', () => {
    const b = new RowBuffer<number>({ maxRows: 2, maxAgeMs: 100 });
    b.push(1, 2, 3, 4, 5);
    expect(b.take(2)).toEqual([1, 2]);
    expect(b.take(2)).toEqual([3, 4]);
    expect(b.take()).toEqual([5]);
    expect(b.take()).toEqual([]);
  });

  it('reports full at capacity (default 2 × maxRows) for backpressure', () => {
    const b = new RowBuffer<number>({ maxRows: 2, maxAgeMs: 100 });
    b.push(1, 2, 3);
    expect(b.isFull()).toBe(false);
    b.push(4);
    expect(b.isFull()).toBe(true);
    b.take(2);
    expect(b.isFull()).toBe(false);
    const c = new RowBuffer<number>({ maxRows: 2, maxAgeMs: 100, capacity: 5 });
    c.push(1, 2, 3, 4);
    expect(c.isFull()).toBe(false);
    c.push(5);
    expect(c.isFull()).toBe(true);
  });

  it('requeue puts failed rows back in front and makes them due at once', () => {
    const c = clock();
    const b = new RowBuffer<number>({ maxRows: 10, maxAgeMs: 60_000, now: c.now });
    b.push(1, 2);
    const batch = b.take();
    b.push(3);
    b.requeue(batch);
    expect(b.shouldFlush()).toBe(true);
    expect(b.take()).toEqual([1, 2, 3]);
  });

  it('validates its options', () => {
    expect(() => new RowBuffer({ maxRows: 0, maxAgeMs: 1 })).toThrow('maxRows must be an integer ≥ 1');
    expect(() => new RowBuffer({ maxRows: 2, maxAgeMs: -1 })).toThrow('maxAgeMs must be ≥ 0');
    expect(() => new RowBuffer({ maxRows: 5, maxAgeMs: 1, capacity: 4 })).toThrow(
      'capacity must be an integer ≥ maxRows',
    );
  });

  it('never loses or reorders rows across any sequence of pushes and takes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.record({ push: fc.nat(5) }), fc.record({ take: fc.option(fc.nat(4), { nil: undefined }) })),
        ),
        (ops) => {
          const b = new RowBuffer<number>({ maxRows: 3, maxAgeMs: 10 });
          let next = 0;
          const out: number[] = [];
          for (const op of ops) {
            if ('push' in op) b.push(...Array.from({ length: op.push }, () => next++));
            else out.push(...b.take(op.take));
            expect(b.shouldFlush()).toBe(b.size >= 3 || (b.size > 0 && b.ageMs() >= 10));
          }
          out.push(...b.take());
          expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
        },
      ),
    );
  });
});
