import { describe, expect, it } from 'vitest';
import { compileFormat, createTimeParser, zoneResolver } from '../src/index';

describe('createTimeParser', () => {
  it('reads wall times in the zone, and offsets when the text has one', () => {
    const london = createTimeParser(['M/D/YYYY H:mm'], 'Europe/London');
    expect(london('12/1/2010 8:26')).toBe(Date.parse('2010-12-01T08:26:00Z')); // GMT
    expect(london('6/1/2011 8:45')).toBe(Date.parse('2011-06-01T07:45:00Z')); // BST
    const iso = createTimeParser(['iso'], 'America/New_York');
    expect(iso('2024-06-01T10:00:00Z')).toBe(Date.parse('2024-06-01T10:00:00Z'));
    expect(iso('2024-06-01 10:00:00+02:00')).toBe(Date.parse('2024-06-01T08:00:00Z'));
    expect(iso('2024-06-01 10:00')).toBe(Date.parse('2024-06-01T14:00:00Z')); // EDT
    expect(iso('2024-01-15')).toBe(Date.parse('2024-01-15T05:00:00Z')); // EST midnight
    expect(iso('2024-06-01T10:00:00.123456Z')).toBe(Date.parse('2024-06-01T10:00:00.123Z'));
    expect(createTimeParser(['DD.MM.YYYY HH:mm'], '+05:30')('01.03.2024 08:00')).toBe(
      Date.parse('2024-03-01T02:30:00Z'),
    );
    expect(createTimeParser(['epoch_s', 'epoch_ms'], 'UTC')('1718000000')).toBe(1718000000000);
  });

  it('tries the formats in order and refuses dates that do not exist', () => {
    const p = createTimeParser(['YYYY-MM-DD', 'D/M/YYYY'], 'UTC');
    expect(p('3/2/2024')).toBe(Date.UTC(2024, 1, 3));
    for (const bad of ['2023-02-29', '2024-04-31', '2024-13-01', '31/31/2024', 'yesterday', '2024-06-01 25:00'])
      expect(p(bad), bad).toBeNull();
    expect(createTimeParser(['iso'], 'UTC')('2024-06-01T24:00:00Z')).toBeNull();
  });

  it('resolves local times around DST changes deterministically', () => {
    const berlin = zoneResolver('Europe/Berlin');
    expect(berlin(Date.UTC(2024, 2, 31, 1, 30))).toBe(Date.parse('2024-03-31T00:30:00Z'));
    expect(berlin(Date.UTC(2024, 2, 31, 3, 30))).toBe(Date.parse('2024-03-31T01:30:00Z'));
    expect(berlin(Date.UTC(2024, 9, 27, 12, 0))).toBe(Date.parse('2024-10-27T11:00:00Z'));
  });

  it('a wall time in the spring gap is read with the earlier offset, one in the autumn overlap as its first occurrence', () => {
    const berlin = zoneResolver('Europe/Berlin');
    expect(berlin(Date.UTC(2024, 2, 31, 2, 30))).toBe(Date.parse('2024-03-31T01:30:00Z')); // 02:30 +01:00
    expect(berlin(Date.UTC(2024, 9, 27, 2, 30))).toBe(Date.parse('2024-10-27T00:30:00Z')); // 02:30 +02:00
    expect(createTimeParser(['DD.MM.YYYY HH:mm'], 'Europe/Berlin')('31.03.2024 02:30')).toBe(
      Date.parse('2024-03-31T01:30:00Z'),
    );
    const london = zoneResolver('Europe/London');
    expect(london(Date.UTC(2011, 2, 27, 1, 30))).toBe(Date.parse('2011-03-27T01:30:00Z')); // gap: 01:30 +00:00
    expect(london(Date.UTC(2011, 9, 30, 1, 30))).toBe(Date.parse('2011-10-30T00:30:00Z')); // overlap: BST
  });

  it('names a bad format or zone', () => {
    expect(() => compileFormat('HH:mm')).toThrow(/has no year/);
    expect(() => zoneResolver('Europe/Lodnon')).toThrow(/unknown time zone "Europe\/Lodnon"/);
  });
});
