/**
 * Formatted ticket numbers (issue 12): a sequence may show its values through
 * a template such as `INV-{yyyy}-{value:6}` and may add check digits. The
 * template is compiled once into parts, so rendering a value is a short loop,
 * and into one anchored regular expression with a single variable-length digit
 * run, so reading a ticket back is bounded and cannot backtrack badly.
 *
 * Template language: `{value}` the number, `{value:N}` the number zero-padded
 * to N digits (1–19; a larger number shows all its digits), `{period}` the
 * period key (`2026`, `2026-11`, `2026-11-30`), `{yyyy}` `{yy}` `{mm}` `{dd}` the
 * date of issue in the sequence's time zone, `{check}` the check digits; `{{`
 * and `}}` stand for `{` and `}`; everything else is literal text.
 */
import { CHECK_KINDS, checkWidth, computeCheck, type CheckKind } from './check-digits.js';
import { TicketError } from './errors.js';
import { PERIODS, type Period, type PeriodInstant } from './periods.js';

/** Longest formatted ticket, in UTF-16 code units (what JavaScript's `length` counts). */
export const MAX_FORMATTED_LENGTH = 64;
/** Longest template accepted. */
export const MAX_TEMPLATE_LENGTH = 256;
/** Widest `{value:N}` padding: a 63-bit value has at most 19 digits. */
const MAX_PADDING = 19;

/** Date and period fields read back from a ticket (those it shows, or implies: `{period}` implies the date parts). */
export interface FormatFields {
  readonly yyyy?: string;
  readonly yy?: string;
  readonly mm?: string;
  readonly dd?: string;
  readonly period?: string;
}

/** A ticket read back by `TicketFormat.parse`. */
export interface ParsedTicket {
  readonly value: bigint;
  readonly fields: FormatFields;
  /** False when the format has check digits and these do not match the value; true otherwise. */
  readonly checkOk: boolean;
}

/** A compiled sequence format. */
export interface TicketFormat {
  /** The template as given; `undefined` = the value's digits (followed by the check digits, if any). */
  readonly template: string | undefined;
  readonly check: CheckKind;
  readonly period: Period;
  /** True when values are plain decimal numbers (no template, no check): the service keeps bigint. */
  readonly plain: boolean;
  /** True when every output of this format contains at least one non-digit character. */
  readonly alwaysHasNonDigit: boolean;
  /**
   * True when the template shows a date field that changes within a period
   * (`{mm}` or `{dd}` in a yearly format, `{dd}` in a monthly one): the
   * instant given to `render` must then be renewed every local day, not only
   * when `periodAt`'s period bounds are passed. (Addition to the issue-12 API.)
   */
  readonly refreshDaily: boolean;
  /**
   * The ticket for `value` issued at `at` (from `periodAt` with this format's
   * period). Check digits are computed over the value's decimal digits
   * without padding zeros, so `{value:6}` showing `000123` carries the same
   * check as `123` (for Luhn, Damm and MOD 97-10 leading zeros change nothing anyway).
   *
   * `{mm}` and `{dd}` show `at`'s date: a caller that keeps one instant for a
   * whole year or month must ask `periodAt` again each local day when
   * `refreshDaily` is true, or those fields go stale.
   *
   * @throws RangeError when `value` is below 1.
   */
  render(value: bigint, at: PeriodInstant): string;
  /**
   * Reads a ticket back; `undefined` when the text is not of this format:
   * longer than 64 characters, another layout, a value below 1 or with
   * padding it would not have been rendered with, an impossible date, or
   * fields that disagree (`{yyyy}` and `{period}` naming different years).
   * A wrong check digit still parses, with `checkOk: false`.
   */
  parse(text: string): ParsedTicket | undefined;
  /**
   * The period key a parsed ticket belongs to (`''` for period none), or
   * `undefined` when the format cannot tell: `{yy}` alone does not name the century.
   */
  periodKeyOf(parsed: ParsedTicket): string | undefined;
}

type FieldName = 'yyyy' | 'yy' | 'mm' | 'dd' | 'period';

type Part =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'value'; readonly width: number }
  | { readonly kind: 'check' }
  | { readonly kind: FieldName };

const FIELD_NAMES: ReadonlySet<string> = new Set<FieldName>(['yyyy', 'yy', 'mm', 'dd', 'period']);

/** Width of each date field, and of the period key per period. */
const FIELD_WIDTH: Readonly<Record<Exclude<FieldName, 'period'>, number>> = { yyyy: 4, yy: 2, mm: 2, dd: 2 };
const PERIOD_KEY_WIDTH: Readonly<Record<Period, number>> = { none: 0, yearly: 4, monthly: 7, daily: 10 };
const PERIOD_KEY_PATTERN: Readonly<Record<Period, string>> = {
  none: '',
  yearly: '[0-9]{4}',
  monthly: '[0-9]{4}-[0-9]{2}',
  daily: '[0-9]{4}-[0-9]{2}-[0-9]{2}',
};

/**
 * Characters a template may not hold: controls, any white space (the line
 * protocol separates values with spaces and ends replies with a newline) and
 * lone surrogates (not encodable as UTF-8).
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_TEMPLATE = /[\u0000-\u001f\u007f-\u009f\s]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function refuse(message: string): never {
  throw new TicketError('EBADREQ', `format: ${message}`);
}

/** Splits a template into parts; every error names what is wrong. */
function splitTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  const flushLiteral = (): void => {
    if (literal.length > 0) parts.push({ kind: 'literal', text: literal });
    literal = '';
  };
  let index = 0;
  while (index < template.length) {
    const character = template[index]!;
    if (character === '}') {
      if (template[index + 1] !== '}') refuse(`unbalanced "}" at position ${index + 1} (write "}}" for a literal brace)`);
      literal += '}';
      index += 2;
      continue;
    }
    if (character !== '{') {
      literal += character;
      index++;
      continue;
    }
    if (template[index + 1] === '{') {
      literal += '{';
      index += 2;
      continue;
    }
    const close = template.indexOf('}', index + 1);
    const nextOpen = template.indexOf('{', index + 1);
    if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
      refuse(`unbalanced "{" at position ${index + 1} (write "{{" for a literal brace)`);
    }
    const name = template.slice(index + 1, close);
    flushLiteral();
    parts.push(fieldPart(name));
    index = close + 1;
  }
  flushLiteral();
  return parts;
}

function fieldPart(name: string): Part {
  if (name === 'value') return { kind: 'value', width: 0 };
  if (name === 'check') return { kind: 'check' };
  if (FIELD_NAMES.has(name)) return { kind: name as FieldName };
  if (name.startsWith('value:')) {
    const widthText = name.slice('value:'.length);
    const width = /^[0-9]{1,3}$/.test(widthText) ? Number(widthText) : Number.NaN;
    if (!(width >= 1 && width <= MAX_PADDING)) refuse(`{${name}}: the padding width must be a whole number from 1 to ${MAX_PADDING}`);
    return { kind: 'value', width };
  }
  refuse(`unknown field {${name.slice(0, 32)}} (known: {value}, {value:N}, {period}, {yyyy}, {yy}, {mm}, {dd}, {check})`);
}

function decimalDigits(value: bigint): number {
  return value.toString().length;
}

function escapeForPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** What `parse` collects before it checks that the fields agree. */
interface RawFields {
  yyyy?: string;
  yy?: string;
  mm?: string;
  dd?: string;
  period?: string;
}

/** Days in a month, February counted for the year when known and as 29 otherwise. */
function daysInMonth(month: number, year: number | undefined): number {
  if (month === 2) return year === undefined || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Merges `{period}` into the date fields and checks that everything agrees and is a real date. */
function settleFields(raw: RawFields, period: Period): FormatFields | undefined {
  let { yyyy, mm, dd } = raw;
  if (raw.period !== undefined) {
    const [keyYear, keyMonth, keyDay] = raw.period.split('-');
    if ((yyyy !== undefined && yyyy !== keyYear) || (mm !== undefined && keyMonth !== undefined && mm !== keyMonth)) return undefined;
    if (dd !== undefined && keyDay !== undefined && dd !== keyDay) return undefined;
    yyyy = keyYear;
    mm = keyMonth ?? mm;
    dd = keyDay ?? dd;
  }
  let yy = raw.yy;
  if (yyyy !== undefined) {
    if (yyyy[0] === '0') return undefined;
    if (yy !== undefined && yy !== yyyy.slice(2)) return undefined;
    yy = yyyy.slice(2);
  }
  const month = mm === undefined ? undefined : Number(mm);
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (dd !== undefined) {
    const day = Number(dd);
    if (day < 1 || day > (month === undefined ? 31 : daysInMonth(month, yyyy === undefined ? undefined : Number(yyyy)))) return undefined;
  }
  let key: string | undefined;
  if (period === 'yearly' && yyyy !== undefined) key = yyyy;
  else if (period === 'monthly' && yyyy !== undefined && mm !== undefined) key = `${yyyy}-${mm}`;
  else if (period === 'daily' && yyyy !== undefined && mm !== undefined && dd !== undefined) key = `${yyyy}-${mm}-${dd}`;
  const fields: { -readonly [K in keyof FormatFields]: FormatFields[K] } = {};
  if (yyyy !== undefined) fields.yyyy = yyyy;
  if (yy !== undefined) fields.yy = yy;
  if (mm !== undefined) fields.mm = mm;
  if (dd !== undefined) fields.dd = dd;
  if (key !== undefined) fields.period = key;
  return fields;
}

/**
 * Compiles a sequence's format.
 *
 * Check digits are computed over the value's decimal digits without padding
 * zeros (`{value:6}` showing `000123` carries the check of `123`); with a
 * check kind and no `{check}` in the template they follow the value directly;
 * with no template the ticket is the value's digits followed by the check digits.
 *
 * @param template the template, or `undefined` for the value's digits alone
 * @param check check digits to add (`none` for none)
 * @param period how often the sequence starts counting again
 * @param maxValue largest value the sequence may issue (for the 64-character bound)
 * @throws TicketError EBADREQ for: template longer than 256; no {value}/{value:N};
 *   unknown field; unbalanced single { or }; {check} with check 'none'; {check} twice; {value} twice;
 *   N outside 1..19; a period the template cannot show (yearly needs {yyyy}, {yy} or {period};
 *   monthly needs the year and {mm}, or {period}; daily needs year, month and {dd}, or {period});
 *   {period} with period none; control characters, white space or lone surrogates in the template;
 *   an unknown check kind or period; maxValue below 1;
 *   worst-case formatted length (value of maxValue's digit count, its check) over 64.
 */
export function compileFormat(template: string | undefined, check: CheckKind, period: Period, maxValue: bigint): TicketFormat {
  if (!CHECK_KINDS.includes(check)) refuse(`unknown check ${JSON.stringify(check)} (known: ${CHECK_KINDS.join(', ')})`);
  if (!PERIODS.includes(period)) refuse(`unknown period ${JSON.stringify(period)} (known: ${PERIODS.join(', ')})`);
  if (typeof maxValue !== 'bigint' || maxValue < 1n) refuse('the largest value must be at least 1');
  let parts: Part[];
  if (template === undefined) {
    if (period !== 'none') refuse(`a ${period} period needs a template that shows it, such as {period}-{value}`);
    parts = [{ kind: 'value', width: 0 }];
  } else {
    if (typeof template !== 'string') refuse('the template must be a string');
    if (template.length > MAX_TEMPLATE_LENGTH) refuse(`template longer than ${MAX_TEMPLATE_LENGTH} characters`);
    const forbidden = FORBIDDEN_IN_TEMPLATE.exec(template);
    if (forbidden !== null) refuse(`the template holds ${JSON.stringify(forbidden[0])} at position ${forbidden.index + 1}: control characters and white space are not allowed`);
    parts = splitTemplate(template);
  }

  const count = (kind: Part['kind']): number => parts.filter((part) => part.kind === kind).length;
  if (count('value') === 0) refuse('the template must contain {value} or {value:N}');
  if (count('value') > 1) refuse('the template may contain {value} only once');
  if (count('check') > 1) refuse('the template may contain {check} only once');
  if (count('check') === 1 && check === 'none') refuse('{check} needs a check kind (luhn, damm or mod97)');
  if (count('period') > 0 && period === 'none') refuse('{period} needs a period (yearly, monthly or daily)');
  if (check !== 'none' && count('check') === 0) {
    const valueAt = parts.findIndex((part) => part.kind === 'value');
    parts.splice(valueAt + 1, 0, { kind: 'check' });
  }
  const shows = (kind: FieldName): boolean => count(kind) > 0;
  const showsYear = shows('yyyy') || shows('yy');
  if (!shows('period')) {
    if (period === 'yearly' && !showsYear) refuse('a yearly sequence needs {yyyy}, {yy} or {period} in its template');
    if (period === 'monthly' && !(showsYear && shows('mm'))) refuse('a monthly sequence needs the year and {mm}, or {period}, in its template');
    if (period === 'daily' && !(showsYear && shows('mm') && shows('dd'))) {
      refuse('a daily sequence needs the year, {mm} and {dd}, or {period}, in its template');
    }
  }

  const width = checkWidth(check);
  let longest = 0;
  for (const part of parts) {
    if (part.kind === 'literal') longest += part.text.length;
    else if (part.kind === 'value') longest += Math.max(part.width, decimalDigits(maxValue));
    else if (part.kind === 'check') longest += width;
    else if (part.kind === 'period') longest += PERIOD_KEY_WIDTH[period];
    else longest += FIELD_WIDTH[part.kind];
  }
  if (longest > MAX_FORMATTED_LENGTH) {
    refuse(`tickets could be ${longest} characters long, more than ${MAX_FORMATTED_LENGTH} (the largest value has ${decimalDigits(maxValue)} digits)`);
  }

  const refreshDaily = (period === 'yearly' && (shows('mm') || shows('dd'))) || (period === 'monthly' && shows('dd'));
  const alwaysHasNonDigit = parts.some(
    (part) => (part.kind === 'literal' && /[^0-9]/.test(part.text)) || (part.kind === 'period' && (period === 'monthly' || period === 'daily')),
  );

  // One capture group per non-literal part, in order; only the value is of variable length,
  // so a text of a given length splits one way only.
  const captures: Exclude<Part['kind'], 'literal'>[] = [];
  let source = '^';
  for (const part of parts) {
    if (part.kind === 'literal') {
      source += escapeForPattern(part.text);
      continue;
    }
    captures.push(part.kind);
    if (part.kind === 'value') source += '([0-9]+)';
    else if (part.kind === 'check') source += `([0-9]{${width}})`;
    else if (part.kind === 'period') source += `(${PERIOD_KEY_PATTERN[period]})`;
    else source += `([0-9]{${FIELD_WIDTH[part.kind]}})`;
  }
  const pattern = new RegExp(`${source}$`);
  const valuePart = parts.find((part) => part.kind === 'value') as { readonly width: number };
  const padding = valuePart.width;
  const checkKind = check === 'none' ? undefined : check;

  /**
   * The template cut at its value and check parts, with the date fields of one
   * instant already filled in: `[text, 'v', text, 'c', text]`. Built once per
   * instant (a caller keeps one instant for a whole period or day), so
   * rendering a value is a few string concatenations.
   */
  let segmentsFor: PeriodInstant | undefined;
  let segments: string[] = [];
  const VALUE_MARK = '\u0000v';
  const CHECK_MARK = '\u0000c';
  function segmentsOf(at: PeriodInstant): string[] {
    if (at === segmentsFor) return segments;
    const built: string[] = [];
    let text = '';
    for (const part of parts) {
      switch (part.kind) {
        case 'literal':
          text += part.text;
          break;
        case 'value':
        case 'check':
          built.push(text, part.kind === 'value' ? VALUE_MARK : CHECK_MARK);
          text = '';
          break;
        case 'yyyy':
          text += at.yyyy;
          break;
        case 'yy':
          text += at.yyyy.slice(2);
          break;
        case 'mm':
          text += at.mm;
          break;
        case 'dd':
          text += at.dd;
          break;
        case 'period':
          text += at.key;
          break;
      }
    }
    built.push(text);
    segmentsFor = at;
    segments = built;
    return built;
  }

  function render(value: bigint, at: PeriodInstant): string {
    if (value < 1n) throw new RangeError(`ticket values start at 1, not ${value}`);
    const digits = value.toString();
    const pieces = segmentsOf(at);
    let out = '';
    for (let index = 0; index < pieces.length; index++) {
      const piece = pieces[index] as string;
      if (piece === VALUE_MARK) out += digits.length >= padding ? digits : digits.padStart(padding, '0');
      else if (piece === CHECK_MARK) out += computeCheck(checkKind!, digits);
      else out += piece;
    }
    return out;
  }

  function parse(text: string): ParsedTicket | undefined {
    if (typeof text !== 'string' || text.length === 0 || text.length > MAX_FORMATTED_LENGTH) return undefined;
    const match = pattern.exec(text);
    if (match === null) return undefined;
    let valueDigits = '';
    let checkText = '';
    const raw: RawFields = {};
    for (let index = 0; index < captures.length; index++) {
      const kind = captures[index]!;
      const captured = match[index + 1]!;
      if (kind === 'value') valueDigits = captured;
      else if (kind === 'check') checkText = captured;
      else {
        // A field shown twice must show the same thing twice.
        if (raw[kind] !== undefined && raw[kind] !== captured) return undefined;
        raw[kind] = captured;
      }
    }
    // Only the digits render would have produced: no padding beyond N, none at all without N.
    if (valueDigits.length > Math.max(padding, 1) && valueDigits[0] === '0') return undefined;
    if (valueDigits.length < padding) return undefined;
    const value = BigInt(valueDigits);
    if (value < 1n) return undefined;
    const fields = settleFields(raw, period);
    if (fields === undefined) return undefined;
    const checkOk = checkKind === undefined || computeCheck(checkKind, value.toString()) === checkText;
    return { value, fields, checkOk };
  }

  function periodKeyOf(parsed: ParsedTicket): string | undefined {
    if (period === 'none') return '';
    const settled = settleFields(parsed.fields, period);
    return settled?.period;
  }

  return {
    template,
    check,
    period,
    plain: template === undefined && check === 'none',
    alwaysHasNonDigit,
    refreshDaily,
    render,
    parse,
    periodKeyOf,
  };
}
