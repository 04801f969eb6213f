/**
 * Sequence definitions: per-sequence settings (max, period and time zone,
 * format, check digit) as users write them, as the store keeps them, and
 * compiled for issuing. The rules that keep a changed setting from ever
 * making a value repeat live here too (`checkChange`), so the admin API, the
 * config file and every server sharing a store apply the same ones.
 *
 * Settings are merged: fields left out of a change keep their value, `null`
 * resets one to its default. `floor` and `force` are not settings but actions
 * taken with the change (raise the floor now, allow a floor past --max-jump).
 */
import { CHECK_KINDS, type CheckKind } from './check-digits.js';
import { TicketError } from './errors.js';
import { MAX_VALUE, type SlotMap } from './numbering.js';
import { PERIODS, isValidTimeZone, periodAt, type Period, type PeriodInstant } from './periods.js';
import { parseValue } from './request.js';
import type { Ticket } from './ticket.js';
import { compileFormat, type TicketFormat } from './ticket-format.js';

/** Largest value a JavaScript `Number` holds exactly: `--js-safe` caps every sequence here. */
export const JS_SAFE_MAX = 2n ** 53n - 1n;

/** Separates a periodic sequence's name from a period key in the store (a control character: no client name has it). */
export const PERIOD_SEPARATOR = '\u001e';

/** Longest name a sequence with a period may have: its period counters add a separator and up to 10 bytes. */
export const MAX_PERIODIC_NAME_BYTES = 117;

/** A sequence's settings; every field has its default when absent. */
export interface SequenceSettings {
  /** Largest value issued (past it EXHAUSTED); undefined: no limit of its own. */
  readonly max?: bigint;
  readonly period: Period;
  /** IANA time zone the period counts in. */
  readonly timezone: string;
  /** Template; undefined: the value's digits. */
  readonly format?: string;
  readonly check: CheckKind;
}

/** Settings of a sequence nobody configured. */
export const DEFAULT_SETTINGS: SequenceSettings = { period: 'none', timezone: 'UTC', check: 'none' };

/** A change as the admin API or the config file gives it. */
export interface SettingsChange {
  /** Fields to set; `null` resets a field to its default. */
  readonly fields: {
    readonly max?: bigint | null;
    readonly period?: Period | null;
    readonly timezone?: string | null;
    readonly format?: string | null;
    readonly check?: CheckKind | null;
  };
  /** Raise the floor to this value with the change. */
  readonly floor?: bigint;
  /** Allow a floor further than --max-jump above the current position. */
  readonly force: boolean;
}

const CHANGE_FIELDS = new Set(['max', 'period', 'timezone', 'format', 'check', 'floor', 'force']);

/**
 * Reads a settings change from a JSON body (or a config file entry).
 * @throws TicketError EBADREQ naming the field for anything malformed
 */
export function parseSettingsChange(body: unknown): SettingsChange {
  if (body === undefined || body === null) return { fields: {}, force: false };
  if (typeof body !== 'object' || Array.isArray(body)) throw badSetting('the settings must be a JSON object');
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!CHANGE_FIELDS.has(key)) {
      throw badSetting(`unknown setting "${key.slice(0, 40)}"; known: max, period, timezone, format, check, floor, force`);
    }
  }
  const fields: { -readonly [K in keyof SettingsChange['fields']]: SettingsChange['fields'][K] } = {};
  if (input.max !== undefined) fields.max = input.max === null ? null : positive(parseValue(input.max, 'max'), 'max');
  if (input.period !== undefined) fields.period = input.period === null ? null : oneOf(input.period, PERIODS, 'period');
  if (input.timezone !== undefined) fields.timezone = input.timezone === null ? null : timeZone(input.timezone);
  if (input.format !== undefined) {
    if (input.format !== null && typeof input.format !== 'string') throw badSetting('format must be a string or null');
    fields.format = input.format;
  }
  if (input.check !== undefined) fields.check = input.check === null ? null : oneOf(input.check, CHECK_KINDS, 'check');
  const floor = input.floor === undefined || input.floor === null ? undefined : parseValue(input.floor, 'floor');
  if (input.force !== undefined && typeof input.force !== 'boolean') throw badSetting('force must be true or false');
  return { fields, floor, force: input.force === true };
}

/** `current` with `change` applied (absent fields kept, null ones reset). */
export function mergeSettings(current: SequenceSettings, change: SettingsChange): SequenceSettings {
  const pick = <K extends keyof SequenceSettings>(key: K): SequenceSettings[K] => {
    const given = change.fields[key];
    if (given === undefined) return current[key];
    return (given === null ? DEFAULT_SETTINGS[key] : given) as SequenceSettings[K];
  };
  const merged: SequenceSettings = {
    period: pick('period'),
    timezone: pick('timezone'),
    check: pick('check'),
  };
  const max = pick('max');
  const format = pick('format');
  return { ...merged, ...(max !== undefined ? { max } : {}), ...(format !== undefined ? { format } : {}) };
}

/** True when the settings change nothing about how values look or count (defaults, maybe a max). */
export function looksPlain(settings: SequenceSettings): boolean {
  return settings.period === 'none' && settings.format === undefined && settings.check === 'none';
}

/** The JSON object the API shows and the store keeps (numbers as strings, defaults written out). */
export function settingsJson(settings: SequenceSettings): Record<string, string | null> {
  return {
    max: settings.max === undefined ? null : settings.max.toString(),
    period: settings.period,
    timezone: settings.timezone,
    format: settings.format ?? null,
    check: settings.check,
  };
}

/** What a store's settings text holds: settings, or the tombstone of a deleted sequence with the settings it had. */
export interface StoredDefinition {
  readonly deleted: boolean;
  readonly settings: SequenceSettings;
}

/** The store text of settings. */
export function encodeSettings(settings: SequenceSettings): string {
  return JSON.stringify(settingsJson(settings));
}

/**
 * Reads a store's settings text back.
 * @throws TicketError EBADREQ when the text is not valid settings (written by a newer version, or by hand)
 */
export function decodeSettings(text: string): StoredDefinition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badSetting('stored settings are not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badSetting('stored settings are not an object');
  const { deleted, ...fields } = parsed as Record<string, unknown>;
  return { deleted: deleted === true, settings: mergeSettings(DEFAULT_SETTINGS, parseSettingsChange(fields)) };
}

/**
 * A sequence's settings compiled for issuing: the format, the last slot, and
 * the period instant, cached until its next boundary.
 */
export class SequenceDefinition {
  readonly settings: SequenceSettings;
  readonly format: TicketFormat;
  /** Values are texts (a format, period or check digit), not plain numbers. */
  readonly formatted: boolean;
  readonly periodic: boolean;
  /** Last slot this sequence may issue, from `max` (and --js-safe). */
  readonly maxSlot: bigint;
  private instant: PeriodInstant | undefined;
  private validFrom = 0;
  private validUntil = 0;

  /**
   * @param maxValue the server-wide largest value (2^63 − 1, or 2^53 − 1 with --js-safe)
   * @throws TicketError EBADREQ for settings that cannot be issued safely
   */
  constructor(name: string, settings: SequenceSettings, map: SlotMap, maxValue: bigint) {
    this.settings = settings;
    const max = settings.max !== undefined && settings.max < maxValue ? settings.max : maxValue;
    if (max < map.first) throw badSetting(`max ${max} is below the first value this server issues (${map.first})`);
    this.maxSlot = (max - map.first) / map.step + 1n;
    this.format = compileFormat(settings.format, settings.check, settings.period, max);
    checkTemplateText(settings.format);
    this.periodic = settings.period !== 'none';
    this.formatted = !this.format.plain || this.periodic;
    if (this.periodic && Buffer.byteLength(name) > MAX_PERIODIC_NAME_BYTES) {
      throw badSetting(`a sequence with a period may have a name of at most ${MAX_PERIODIC_NAME_BYTES} bytes`);
    }
    if (this.periodic && !isValidTimeZone(settings.timezone)) throw badSetting(`unknown time zone "${settings.timezone}"`);
  }

  /** The period instant of `nowMs` (cached until the period, or the day for day-showing formats, ends). */
  instantAt(nowMs: number): PeriodInstant {
    if (this.instant !== undefined && nowMs >= this.validFrom && nowMs < this.validUntil) return this.instant;
    const instant = periodAt(this.settings.period, this.settings.timezone, nowMs);
    let from = instant.startsAtMs;
    let until = instant.endsAtMs;
    if (this.format.refreshDaily) {
      const day = periodAt('daily', this.settings.timezone, nowMs);
      if (day.startsAtMs > from) from = day.startsAtMs;
      if (day.endsAtMs < until) until = day.endsAtMs;
    }
    this.instant = instant;
    this.validFrom = from;
    this.validUntil = until;
    return instant;
  }

  /**
   * Reads a client's `last` for this sequence: the value it names when it is
   * of the period `key`; undefined for a ticket of another period (ignored).
   * @throws TicketError EBADREQ when it is not a ticket of this sequence or its check digit is wrong
   */
  readLast(last: Ticket, key: string): bigint | undefined {
    const text = typeof last === 'bigint' ? last.toString() : last;
    const parsed = this.format.parse(text);
    if (parsed === undefined) throw new TicketError('EBADREQ', `last "${text}" is not a ticket of this sequence`);
    if (!parsed.checkOk) throw new TicketError('EBADREQ', `last "${text}" has a wrong check digit`);
    if (!this.periodic) return parsed.value;
    return this.format.periodKeyOf(parsed) === key ? parsed.value : undefined;
  }
}

/** The store name of a periodic sequence's counter for one period. */
export function periodCounterName(name: string, key: string): string {
  return `${name}${PERIOD_SEPARATOR}${key}`;
}

/** True for the store names of period counters (never a client's sequence). */
export function isPeriodCounter(storeName: string): boolean {
  return storeName.includes(PERIOD_SEPARATOR);
}

/** What is known of a sequence when its settings change. */
export interface ChangeContext {
  /** Values have been issued (or reserved) from it, in any period. */
  readonly used: boolean;
  /** Highest value already reserved in the counter that `max` limits (the current period's), if any. */
  readonly reservedUpTo: bigint | undefined;
}

/**
 * Refuses a change that could make a value repeat:
 * - `max` below a value already reserved;
 * - on a sequence that has issued values, a new look (format, check digit,
 *   period) unless it goes from plain numbers to a format whose every ticket
 *   has a non-digit character (so no new ticket can equal an old number).
 *   The time zone may change: each period key keeps its own counter.
 * @throws TicketError EBADREQ saying why and what to do instead
 */
export function checkChange(current: SequenceSettings, next: SequenceSettings, compiled: SequenceDefinition, context: ChangeContext): void {
  if (next.max !== undefined && context.reservedUpTo !== undefined && next.max < context.reservedUpTo) {
    throw badSetting(
      `max ${next.max} is below ${context.reservedUpTo}, a value already reserved: values up to it may have been issued`,
    );
  }
  const sameLook = current.format === next.format && current.check === next.check && current.period === next.period;
  if (sameLook || !context.used) return;
  if (looksPlain(current) && compiled.format.alwaysHasNonDigit) return;
  throw badSetting(
    'this sequence has issued values; changing its format, check digit or period could issue a ticket that was ' +
      'issued before. Only plain numbers may get a format whose tickets always contain a non-digit character. ' +
      'Define a new sequence instead (a floor can start it above this one).',
  );
}

/**
 * Refuses template text that would break a protocol: spaces separate values
 * on the line protocol, control characters end lines or frames.
 */
function checkTemplateText(template: string | undefined): void {
  // eslint-disable-next-line no-control-regex
  if (template !== undefined && /[\s\u0000-\u001f\u007f-\u009f]/.test(template)) {
    throw badSetting('format must not contain spaces or control characters (the line protocol separates values with spaces)');
  }
}

function positive(value: bigint, field: string): bigint {
  if (value < 1n || value > MAX_VALUE) throw badSetting(`${field} must be from 1 to 2^63 - 1`);
  return value;
}

function oneOf<T extends string>(input: unknown, allowed: readonly T[], field: string): T {
  if (typeof input !== 'string' || !(allowed as readonly string[]).includes(input)) {
    throw badSetting(`${field} must be one of ${allowed.join(', ')}`);
  }
  return input as T;
}

function timeZone(input: unknown): string {
  if (typeof input !== 'string' || !isValidTimeZone(input)) {
    throw badSetting('timezone must be an IANA time zone name such as UTC, Europe/Berlin or America/Los_Angeles');
  }
  return input;
}

function badSetting(message: string): TicketError {
  return new TicketError('EBADREQ', message);
}
