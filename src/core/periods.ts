/**
 * Counting periods of a sequence (issue 12): a sequence with a period counts
 * on its own per year, month or day of a time zone. This module answers, for
 * one instant, which period it belongs to, the date it shows in the zone, and
 * the exact instants where that period (or, for `none`, that day) begins and ends,
 * so that callers compute it once per period instead of once per value.
 *
 * Boundaries are local midnights found through `Intl`, exact to the
 * millisecond across DST changes, including zones whose midnight is skipped
 * (then the day starts at the first instant after the gap) and days skipped whole.
 */
import { TicketError } from './errors.js';

/** How often a sequence starts counting again. */
export type Period = 'none' | 'yearly' | 'monthly' | 'daily';

/** Every period, in the order the docs list them. */
export const PERIODS: readonly Period[] = Object.freeze(['none', 'yearly', 'monthly', 'daily'] as const);

/** One instant seen in a zone, with the span in which the answer stays the same. */
export interface PeriodInstant {
  /** The period key: `''` for none, `'2026'`, `'2026-11'` or `'2026-11-30'`. */
  readonly key: string;
  /** Date of the instant in the zone: four-digit year, two-digit month and day. */
  readonly yyyy: string;
  readonly mm: string;
  readonly dd: string;
  /** First millisecond of this instant's day (period none or daily) or period (yearly, monthly) in the zone. */
  readonly startsAtMs: number;
  /** First millisecond after it: the next boundary (for `none`, the next local midnight). */
  readonly endsAtMs: number;
}

/** Longest time-zone name accepted (the longest IANA name is about 30 characters). */
const MAX_ZONE_NAME = 64;
/** Formatters kept; a server has a handful of zones, the bound only stops a flood of distinct names. */
const MAX_CACHED_ZONES = 128;
/** IANA names are ASCII letters, digits and `/ _ - +`; this also keeps out Intl's `+05:30` offset forms. */
const ZONE_NAME = /^[A-Za-z0-9_+\-/]+$/;

const HOUR_MS = 3_600_000;
/**
 * Half-width of the window searched around a boundary when the quick guess
 * fails: every offset since 1970 lies within −12 h … +14 h and no change
 * exceeds 24 h (Samoa 2011), so the boundary lies within this of the wall time.
 */
const SEARCH_HALF_WIDTH_MS = 27 * HOUR_MS;
/** Past this (10000-01-01T14:00Z) every zone is in year 10000; before it, the local year decides. */
const MAX_INSTANT_MS = Date.UTC(10000, 0, 1, 14) - 1;

/** A zone's formatter and the boundaries already found in it (wall midnight → first instant). */
interface Zone {
  readonly formatter: Intl.DateTimeFormat;
  readonly boundaries: Map<number, number>;
}

/** Boundaries kept per zone: the current and next day, month and year of a few sequences. */
const MAX_CACHED_BOUNDARIES = 32;

const zones = new Map<string, Zone>();

function createFormatter(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
}

function zoneFor(timeZone: string): Zone {
  let zone = zones.get(timeZone);
  if (zone !== undefined) return zone;
  if (!isValidTimeZone(timeZone)) {
    throw new TicketError('EBADREQ', `unknown time zone ${JSON.stringify(String(timeZone).slice(0, MAX_ZONE_NAME))}`);
  }
  zone = { formatter: createFormatter(timeZone), boundaries: new Map() };
  if (zones.size >= MAX_CACHED_ZONES) zones.delete(zones.keys().next().value!);
  zones.set(timeZone, zone);
  return zone;
}

/**
 * True when `name` is a time-zone name this runtime's `Intl` knows (IANA
 * names such as `UTC`, `Europe/Paris`, `America/Los_Angeles`; Intl accepts
 * them in any letter case). At most 64 characters; offset strings such as
 * `+05:30` are refused.
 */
export function isValidTimeZone(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ZONE_NAME || !ZONE_NAME.test(name)) return false;
  if (zones.has(name)) return true;
  try {
    createFormatter(name);
    return true;
  } catch {
    return false;
  }
}

/** Local calendar fields of one instant, and its wall-clock time as if it were UTC. */
interface Wall {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly wallMs: number;
}

function wallOf(formatter: Intl.DateTimeFormat, instantMs: number): Wall {
  // format() is about three times cheaper than formatToParts(); en-US with h23 reads
  // "M/D/YYYY, HH:MM:SS", so the six numbers are taken in that order whatever the separators.
  const text = formatter.format(instantMs);
  const numbers = [0, 0, 0, 0, 0, 0];
  let found = 0;
  let inNumber = false;
  for (let index = 0; index < text.length; index++) {
    const digit = text.charCodeAt(index) - 0x30;
    if (digit >= 0 && digit <= 9) {
      if (!inNumber) {
        if (found === 6) return wallFromParts(formatter, instantMs);
        found++;
        inNumber = true;
      }
      numbers[found - 1] = numbers[found - 1]! * 10 + digit;
    } else {
      inNumber = false;
    }
  }
  if (found !== 6) return wallFromParts(formatter, instantMs);
  const [month, day, year, hour, minute, second] = numbers as [number, number, number, number, number, number];
  return makeWall(instantMs, year, month, day, hour, minute, second);
}

/** The slow, layout-proof reading, for a runtime whose en-US layout is not the expected one. */
function wallFromParts(formatter: Intl.DateTimeFormat, instantMs: number): Wall {
  const value: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const part of formatter.formatToParts(instantMs)) value[part.type] = Number(part.value);
  return makeWall(instantMs, value.year ?? 0, value.month ?? 0, value.day ?? 0, value.hour ?? 0, value.minute ?? 0, value.second ?? 0);
}

function makeWall(instantMs: number, year: number, month: number, day: number, hour: number, minute: number, second: number): Wall {
  // Intl shows whole seconds; offsets since 1970 are whole seconds too, so the milliseconds carry over.
  const milliseconds = ((instantMs % 1000) + 1000) % 1000;
  return { year, month, day, wallMs: utcMs(year, month, day) + ((hour * 60 + minute) * 60 + second) * 1000 + milliseconds };
}

/** Date.UTC for a 1-based month, without its 0–99 → 1900s shortcut. */
function utcMs(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

function wallMsAt(formatter: Intl.DateTimeFormat, instantMs: number): number {
  return wallOf(formatter, instantMs).wallMs;
}

function isFirstAtOrAfter(formatter: Intl.DateTimeFormat, instantMs: number, wallMs: number, wallAtInstant: number): boolean {
  return wallAtInstant >= wallMs && wallMsAt(formatter, instantMs - 1) < wallMs;
}

/**
 * The first instant whose wall clock shows `wallMs` or later (a local
 * midnight, or the end of the gap that skipped it). Tries the offset of a
 * nearby instant, then the offset found at that guess (right unless two
 * changes lie within a day), then bisects: wall time only ever steps back at a
 * fall-back, which never crosses midnight in a real zone, so "shows `wallMs`
 * or later" is monotone over the window searched.
 */
function firstInstantAtOrAfter(zone: Zone, wallMs: number, offsetGuessMs: number): number {
  const known = zone.boundaries.get(wallMs);
  if (known !== undefined) return known;
  const { formatter } = zone;
  let found: number | undefined;
  const guess = wallMs - offsetGuessMs;
  const wallAtGuess = wallMsAt(formatter, guess);
  if (isFirstAtOrAfter(formatter, guess, wallMs, wallAtGuess)) found = guess;
  else {
    const second = wallMs - (wallAtGuess - guess);
    if (second !== guess && isFirstAtOrAfter(formatter, second, wallMs, wallMsAt(formatter, second))) found = second;
  }
  if (found === undefined) {
    let low = wallMs - SEARCH_HALF_WIDTH_MS; // shows an earlier wall time
    let high = wallMs + SEARCH_HALF_WIDTH_MS; // shows wallMs or later
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (wallMsAt(formatter, middle) >= wallMs) high = middle;
      else low = middle;
    }
    found = high;
  }
  if (zone.boundaries.size >= MAX_CACHED_BOUNDARIES) zone.boundaries.clear();
  zone.boundaries.set(wallMs, found);
  return found;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * The period `nowMs` falls in, in `timeZone`, with its exact bounds.
 *
 * Callers cache the answer and ask again only when
 * `nowMs >= endsAtMs || nowMs < startsAtMs`; one call costs a few
 * `Intl` formatting call once the zone's boundaries are known (formatters
 * and boundaries are cached: at most 128 zones, 32 boundaries each).
 *
 * @throws TicketError EBADREQ for an unknown time zone or period.
 * @throws RangeError when `nowMs` is not a finite instant from 1970-01-01T00:00Z
 *   on, or its local year in the zone is past 9999.
 */
export function periodAt(period: Period, timeZone: string, nowMs: number): PeriodInstant {
  if (!Number.isFinite(nowMs) || nowMs < 0 || nowMs > MAX_INSTANT_MS) {
    throw new RangeError(`instant ${nowMs} outside 1970-01-01T00:00:00Z … the end of year 9999`);
  }
  const zone = zoneFor(timeZone);
  const instantMs = Math.floor(nowMs);
  const now = wallOf(zone.formatter, instantMs);
  if (now.year > 9999) throw new RangeError(`instant ${instantMs} is in year ${now.year} in ${timeZone}`);
  const offsetMs = now.wallMs - instantMs;
  const yyyy = pad(now.year, 4);
  const mm = pad(now.month, 2);
  const dd = pad(now.day, 2);
  let key: string;
  let startWallMs: number;
  let endWallMs: number;
  switch (period) {
    case 'none':
    case 'daily':
      key = period === 'none' ? '' : `${yyyy}-${mm}-${dd}`;
      startWallMs = utcMs(now.year, now.month, now.day);
      endWallMs = utcMs(now.year, now.month, now.day + 1);
      break;
    case 'monthly':
      key = `${yyyy}-${mm}`;
      startWallMs = utcMs(now.year, now.month, 1);
      endWallMs = utcMs(now.year, now.month + 1, 1);
      break;
    case 'yearly':
      key = yyyy;
      startWallMs = utcMs(now.year, 1, 1);
      endWallMs = utcMs(now.year + 1, 1, 1);
      break;
    default:
      throw new TicketError('EBADREQ', `unknown period ${JSON.stringify(period)}`);
  }
  return {
    key,
    yyyy,
    mm,
    dd,
    startsAtMs: firstInstantAtOrAfter(zone, startWallMs, offsetMs),
    endsAtMs: firstInstantAtOrAfter(zone, endWallMs, offsetMs),
  };
}
