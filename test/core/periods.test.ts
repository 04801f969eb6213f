import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TicketError } from '../../src/core/errors.js';
import { PERIODS, isValidTimeZone, periodAt, type Period } from '../../src/core/periods.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

/** An independent reading of the local date: Swedish dates are ISO "YYYY-MM-DD". */
function localDate(timeZone: string, ms: number): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}

function bounds(period: Period, timeZone: string, when: string) {
  const instant = periodAt(period, timeZone, at(when));
  return { key: instant.key, date: `${instant.yyyy}-${instant.mm}-${instant.dd}`, starts: iso(instant.startsAtMs), ends: iso(instant.endsAtMs) };
}

describe('periodAt: exact boundaries', () => {
  it.each([
    // Los Angeles springs forward on 2026-03-08 at 02:00 PST: a 23-hour day.
    ['daily', 'America/Los_Angeles', '2026-03-08T12:00:00Z', '2026-03-08', '2026-03-08', '2026-03-08T08:00:00.000Z', '2026-03-09T07:00:00.000Z'],
    // … and falls back on 2026-11-01 at 02:00 PDT: a 25-hour day.
    ['daily', 'America/Los_Angeles', '2026-11-01T12:00:00Z', '2026-11-01', '2026-11-01', '2026-11-01T07:00:00.000Z', '2026-11-02T08:00:00.000Z'],
    ['none', 'America/Los_Angeles', '2026-11-01T12:00:00Z', '', '2026-11-01', '2026-11-01T07:00:00.000Z', '2026-11-02T08:00:00.000Z'],
    // The last millisecond of 2026 in Los Angeles, and the first of 2027.
    ['yearly', 'America/Los_Angeles', '2027-01-01T07:59:59.999Z', '2026', '2026-12-31', '2026-01-01T08:00:00.000Z', '2027-01-01T08:00:00.000Z'],
    ['yearly', 'America/Los_Angeles', '2027-01-01T08:00:00.000Z', '2027', '2027-01-01', '2027-01-01T08:00:00.000Z', '2028-01-01T08:00:00.000Z'],
    ['monthly', 'America/Los_Angeles', '2027-01-01T07:59:59.999Z', '2026-12', '2026-12-31', '2026-12-01T08:00:00.000Z', '2027-01-01T08:00:00.000Z'],
    // Chile springs forward at midnight (2026-09-06 00:00 → 01:00): that day starts at 01:00 −03.
    ['daily', 'America/Santiago', '2026-09-05T12:00:00Z', '2026-09-05', '2026-09-05', '2026-09-05T04:00:00.000Z', '2026-09-06T04:00:00.000Z'],
    ['daily', 'America/Santiago', '2026-09-06T12:00:00Z', '2026-09-06', '2026-09-06', '2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z'],
    // Lebanon too (2026-03-29 00:00 EET → 01:00 EEST).
    ['daily', 'Asia/Beirut', '2026-03-29T12:00:00Z', '2026-03-29', '2026-03-29', '2026-03-28T22:00:00.000Z', '2026-03-29T21:00:00.000Z'],
    ['monthly', 'Asia/Beirut', '2026-03-15T12:00:00Z', '2026-03', '2026-03-15', '2026-02-28T22:00:00.000Z', '2026-03-31T21:00:00.000Z'],
    // Leap day.
    ['daily', 'UTC', '2028-02-29T12:00:00Z', '2028-02-29', '2028-02-29', '2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    ['monthly', 'UTC', '2028-02-29T23:59:59.999Z', '2028-02', '2028-02-29', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    ['monthly', 'Pacific/Kiritimati', '2028-02-28T10:00:00Z', '2028-02', '2028-02-29', '2028-01-31T10:00:00.000Z', '2028-02-29T10:00:00.000Z'],
    // Kiritimati (UTC+14) is already in the next day, month and year.
    ['daily', 'Pacific/Kiritimati', '2026-12-31T10:00:00Z', '2027-01-01', '2027-01-01', '2026-12-31T10:00:00.000Z', '2027-01-01T10:00:00.000Z'],
    ['yearly', 'Pacific/Kiritimati', '2026-12-31T09:59:59.999Z', '2026', '2026-12-31', '2025-12-31T10:00:00.000Z', '2026-12-31T10:00:00.000Z'],
    // Samoa skipped 2011-12-30 whole: the 29th ends where the 31st begins.
    ['daily', 'Pacific/Apia', '2011-12-29T12:00:00Z', '2011-12-29', '2011-12-29', '2011-12-29T10:00:00.000Z', '2011-12-30T10:00:00.000Z'],
    ['daily', 'Pacific/Apia', '2011-12-30T10:00:00Z', '2011-12-31', '2011-12-31', '2011-12-30T10:00:00.000Z', '2011-12-31T10:00:00.000Z'],
    // The ends of the range.
    ['yearly', 'UTC', '1970-01-01T00:00:00Z', '1970', '1970-01-01', '1970-01-01T00:00:00.000Z', '1971-01-01T00:00:00.000Z'],
    ['yearly', 'America/Los_Angeles', '1970-01-01T00:00:00Z', '1969', '1969-12-31', '1969-01-01T08:00:00.000Z', '1970-01-01T08:00:00.000Z'],
    ['yearly', 'UTC', '9999-12-31T23:59:59.999Z', '9999', '9999-12-31', '9999-01-01T00:00:00.000Z', '+010000-01-01T00:00:00.000Z'],
  ] as const)('%s in %s at %s is %s (%s), %s … %s', (period, zone, when, key, date, starts, ends) => {
    expect(bounds(period, zone, when)).toEqual({ key, date, starts, ends });
  });

  it('the instant at endsAtMs is in the next period and the one before it is not', () => {
    const last = periodAt('yearly', 'America/Los_Angeles', at('2027-01-01T07:59:59.999Z'));
    expect(periodAt('yearly', 'America/Los_Angeles', last.endsAtMs).key).toBe('2027');
    expect(periodAt('yearly', 'America/Los_Angeles', last.endsAtMs - 1).key).toBe('2026');
  });
});

describe('periodAt: properties over every zone Intl knows', () => {
  const zones = Intl.supportedValuesOf('timeZone');
  const lastInstant = Date.UTC(9999, 11, 30); // leaves room for the zones a day ahead of UTC
  const periodArbitrary = fc.constantFrom(...PERIODS);
  const zoneArbitrary = fc.oneof(fc.constantFrom(...zones), fc.constantFrom('America/Los_Angeles', 'America/Santiago', 'Asia/Beirut', 'Pacific/Kiritimati', 'Pacific/Apia', 'UTC'));
  const instantArbitrary = fc.oneof(
    fc.integer({ min: 0, max: lastInstant }),
    fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }),
  );

  it('startsAtMs ≤ t < endsAtMs, the key holds over the whole span and changes at both ends', () => {
    fc.assert(
      fc.property(periodArbitrary, zoneArbitrary, instantArbitrary, (period, zone, t) => {
        const instant = periodAt(period, zone, t);
        const context = `${period} ${zone} ${iso(t)}`;
        expect(instant.startsAtMs, context).toBeLessThanOrEqual(t);
        expect(instant.endsAtMs, context).toBeGreaterThan(t);
        expect(`${instant.yyyy}-${instant.mm}-${instant.dd}`, context).toBe(localDate(zone, t));
        // For none the span is the local day, so compare dates; otherwise keys.
        const label = (ms: number) => (period === 'none' ? localDate(zone, ms) : periodAt(period, zone, ms).key);
        const own = label(t);
        expect(label(instant.endsAtMs - 1), context).toBe(own);
        // West of Greenwich, 1970-01-01T00:00Z is still in 1969, whose start precedes the accepted range.
        if (instant.startsAtMs >= 0) expect(label(instant.startsAtMs), context).toBe(own);
        if (instant.startsAtMs > 0) expect(label(instant.startsAtMs - 1), context).not.toBe(own);
        // The period after the last one of year 9999 is out of range.
        const lastOfRange = own === '9999' || own === '9999-12' || own === '9999-12-31';
        if (!lastOfRange) expect(label(instant.endsAtMs), context).not.toBe(own);
      }),
      { numRuns: 1500 },
    );
  });

  it('keys have the documented shapes', () => {
    fc.assert(
      fc.property(zoneArbitrary, instantArbitrary, (zone, t) => {
        const [yyyy, mm, dd] = localDate(zone, t).split('-');
        expect(periodAt('none', zone, t).key).toBe('');
        expect(periodAt('yearly', zone, t).key).toBe(yyyy);
        expect(periodAt('monthly', zone, t).key).toBe(`${yyyy}-${mm}`);
        expect(periodAt('daily', zone, t).key).toBe(`${yyyy}-${mm}-${dd}`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('periodAt: bad input', () => {
  it('refuses an unknown zone with EBADREQ and an unknown period with EBADREQ', () => {
    expect(() => periodAt('daily', 'Mars/Olympus_Mons', 0)).toThrow(TicketError);
    expect(() => periodAt('weekly' as Period, 'UTC', 0)).toThrow(/unknown period/);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -1, Date.UTC(10000, 0, 2)])('refuses the instant %s', (bad) => {
    expect(() => periodAt('daily', 'UTC', bad)).toThrow(RangeError);
  });

  it('refuses an instant whose local year is 10000, and accepts the end of 9999 west of Greenwich', () => {
    expect(() => periodAt('yearly', 'Pacific/Kiritimati', Date.UTC(9999, 11, 31, 12))).toThrow(RangeError);
    expect(() => periodAt('yearly', 'UTC', Date.UTC(10000, 0, 1))).toThrow(RangeError);
    expect(periodAt('yearly', 'America/Los_Angeles', Date.UTC(10000, 0, 1, 7, 59, 59, 999)).key).toBe('9999');
  });
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'America/Los_Angeles', 'Europe/Paris', 'Etc/GMT+5', 'america/los_angeles', 'Pacific/Kiritimati'])('accepts %s', (name) => {
    expect(isValidTimeZone(name)).toBe(true);
  });

  it.each(['', 'Mars/Olympus_Mons', '+05:30', 'America/Los Angeles', 'UTC\n', `Europe/${'x'.repeat(60)}`, 'a'.repeat(65)])('refuses %j', (name) => {
    expect(isValidTimeZone(name)).toBe(false);
  });

  it('refuses what is not a string', () => {
    expect(isValidTimeZone(42 as unknown as string)).toBe(false);
    expect(isValidTimeZone(undefined as unknown as string)).toBe(false);
  });
});
