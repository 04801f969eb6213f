import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TicketError } from '../../src/core/errors.js';
import { computeCheck, type CheckKind } from '../../src/core/check-digits.js';
import { periodAt, type Period, type PeriodInstant } from '../../src/core/periods.js';
import { MAX_FORMATTED_LENGTH, compileFormat, type TicketFormat } from '../../src/core/ticket-format.js';

const MAX_63 = 2n ** 63n - 1n;
const at = (period: Period, iso: string, zone = 'UTC'): PeriodInstant => periodAt(period, zone, Date.parse(iso));

function compileError(template: string | undefined, check: CheckKind, period: Period, maxValue = MAX_63): TicketError {
  try {
    compileFormat(template, check, period, maxValue);
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    return error as TicketError;
  }
  throw new Error(`compileFormat(${JSON.stringify(template)}) was accepted`);
}

describe('compileFormat: rendering and reading back', () => {
  it('renders a yearly invoice number and reads it back', () => {
    const format = compileFormat('INV-{yyyy}-{value:6}', 'none', 'yearly', MAX_63);
    const instant = at('yearly', '2026-11-30T12:00:00Z');
    expect(format.render(42n, instant)).toBe('INV-2026-000042');
    expect(format.render(1234567n, instant)).toBe('INV-2026-1234567');
    expect(format.parse('INV-2026-000042')).toEqual({ value: 42n, fields: { yyyy: '2026', yy: '26', period: '2026' }, checkOk: true });
    expect(format.parse('INV-2026-1234567')?.value).toBe(1234567n);
    expect(format.periodKeyOf(format.parse('INV-2026-000042')!)).toBe('2026');
  });

  it('with no template the ticket is the digits followed by the check', () => {
    const instant = at('none', '2026-11-30T12:00:00Z');
    expect(compileFormat(undefined, 'luhn', 'none', MAX_63).render(7992739871n, instant)).toBe('79927398713');
    expect(compileFormat(undefined, 'damm', 'none', MAX_63).render(572n, instant)).toBe('5724');
    expect(compileFormat(undefined, 'mod97', 'none', MAX_63).render(794n, instant)).toBe('79444');
    expect(compileFormat(undefined, 'none', 'none', MAX_63).render(794n, instant)).toBe('794');
  });

  it('{value}{check} reads the value as all digits but the check', () => {
    const format = compileFormat('{value}{check}', 'mod97', 'none', MAX_63);
    expect(format.parse('79444')).toEqual({ value: 794n, fields: {}, checkOk: true });
    expect(format.parse('79445')).toEqual({ value: 794n, fields: {}, checkOk: false });
    expect(format.parse('44')).toBeUndefined();
  });

  it('puts the check right after the value when the template has no {check}', () => {
    const format = compileFormat('A{value}B', 'luhn', 'none', MAX_63);
    expect(format.render(7992739871n, at('none', '2026-01-01T00:00:00Z'))).toBe('A79927398713B');
  });

  it('puts the check where {check} is, computed over the unpadded digits', () => {
    const format = compileFormat('{check}-{value:6}', 'damm', 'none', MAX_63);
    expect(format.render(572n, at('none', '2026-01-01T00:00:00Z'))).toBe('4-000572');
    expect(format.parse('4-000572')).toEqual({ value: 572n, fields: {}, checkOk: true });
  });

  it('{{ and }} are literal braces', () => {
    const format = compileFormat('{{{value}}}-}}{{', 'none', 'none', MAX_63);
    expect(format.render(42n, at('none', '2026-01-01T00:00:00Z'))).toBe('{42}-}{');
    expect(format.parse('{42}-}{')?.value).toBe(42n);
  });

  it('shows every date field and the period key', () => {
    const format = compileFormat('{period}/{yyyy}{yy}{mm}{dd}/{value}', 'none', 'daily', MAX_63);
    const instant = at('daily', '2028-02-29T23:30:00Z', 'America/Los_Angeles');
    expect(format.render(7n, instant)).toBe('2028-02-29/202828' + '0229/7');
    expect(format.parse('2028-02-29/2028280229/7')).toEqual({
      value: 7n,
      fields: { yyyy: '2028', yy: '28', mm: '02', dd: '29', period: '2028-02-29' },
      checkOk: true,
    });
  });
});

describe('compileFormat: refusals (EBADREQ with a clear message)', () => {
  it.each([
    ['a template longer than 256', 'x'.repeat(250) + '{value}', 'none', 'none', /longer than 256/],
    ['no {value}', 'INV-{yyyy}', 'none', 'none', /must contain \{value\}/],
    ['an empty template', '', 'none', 'none', /must contain \{value\}/],
    ['{value} escaped', '{{value}}', 'none', 'none', /must contain \{value\}/],
    ['an unknown field', '{value}-{hh}', 'none', 'none', /unknown field \{hh\}/],
    ['an unknown field with a colon', '{yyyy:2}{value}', 'none', 'none', /unknown field/],
    ['a single {', 'A{value}{', 'none', 'none', /unbalanced "\{"/],
    ['a single { before a field', 'A{{value}', 'none', 'none', /unbalanced "\}"/],
    ['a nested {', '{val{value}ue}', 'none', 'none', /unbalanced "\{"/],
    ['a single }', '{value}}', 'none', 'none', /unbalanced "\}"/],
    ['{check} without a check kind', '{value}{check}', 'none', 'none', /needs a check kind/],
    ['{check} twice', '{check}{value}{check}', 'luhn', 'none', /\{check\} only once/],
    ['{value} twice', '{value}{value:3}', 'none', 'none', /\{value\} only once/],
    ['{value:0}', '{value:0}', 'none', 'none', /from 1 to 19/],
    ['{value:20}', '{value:20}', 'none', 'none', /from 1 to 19/],
    ['{value:}', '{value:}', 'none', 'none', /from 1 to 19/],
    ['{value:-3}', '{value:-3}', 'none', 'none', /from 1 to 19/],
    ['{period} with period none', '{period}-{value}', 'none', 'none', /\{period\} needs a period/],
    ['yearly without a year', '{mm}-{value}', 'none', 'yearly', /yearly sequence needs/],
    ['monthly without the month', '{yyyy}-{value}', 'none', 'monthly', /monthly sequence needs/],
    ['monthly without the year', '{mm}-{value}', 'none', 'monthly', /monthly sequence needs/],
    ['daily without the day', '{yyyy}{mm}-{value}', 'none', 'daily', /daily sequence needs/],
    ['a period with no template', undefined, 'none', 'daily', /needs a template that shows it/],
    ['a space', 'INV {value}', 'none', 'none', /white space/],
    ['a newline', 'INV\n{value}', 'none', 'none', /control characters/],
    ['a lone surrogate', '\ud800{value}', 'none', 'none', /not allowed/],
    ['an unknown check kind', '{value}', 'crc' as CheckKind, 'none', /unknown check/],
    ['an unknown period', '{value}', 'none', 'weekly' as Period, /unknown period/],
  ] as const)('refuses %s', (_label, template, check, period, message) => {
    const error = compileError(template, check, period);
    expect(error.code).toBe('EBADREQ');
    expect(error.message).toMatch(message);
  });

  it('refuses a template whose worst case is longer than 64, counting the largest value and its check', () => {
    const template = `${'x'.repeat(MAX_FORMATTED_LENGTH - 21)}{value}`; // 43 + 19 digits + 2 check = 64
    expect(() => compileFormat(template, 'mod97', 'none', MAX_63)).not.toThrow();
    expect(compileError(`x${template}`, 'mod97', 'none').message).toMatch(/65 characters long, more than 64/);
    // A smaller largest value leaves room; padding counts when it is wider than the value.
    expect(() => compileFormat(`x${template}`, 'mod97', 'none', 10n ** 18n - 1n)).not.toThrow();
    expect(compileError(`${'x'.repeat(46)}{value:19}`, 'none', 'none', 9n).message).toMatch(/65 characters/);
    expect(compileError(`${'x'.repeat(55)}{period}{value}`, 'none', 'daily', 9n).message).toMatch(/66 characters/);
  });

  it('refuses a largest value below 1', () => {
    expect(compileError('{value}', 'none', 'none', 0n).message).toMatch(/at least 1/);
  });
});

describe('compileFormat: flags', () => {
  it.each([
    [undefined, 'none', 'none', true, false],
    [undefined, 'luhn', 'none', false, false],
    ['{value}', 'none', 'none', false, false],
    ['{yyyy}{value:6}', 'none', 'yearly', false, false],
    ['{period}{value}', 'none', 'yearly', false, false],
    ['{period}{value}', 'none', 'monthly', false, true],
    ['{period}{value}', 'none', 'daily', false, true],
    ['7{value}0', 'damm', 'none', false, false],
    ['#{value}', 'none', 'none', false, true],
    ['{{{value}}}', 'none', 'none', false, true],
  ] as const)('%s with check %s and period %s: plain %s, alwaysHasNonDigit %s', (template, check, period, plain, nonDigit) => {
    const format = compileFormat(template, check, period, MAX_63);
    expect(format.plain).toBe(plain);
    expect(format.alwaysHasNonDigit).toBe(nonDigit);
    expect(format.template).toBe(template);
    expect(format.check).toBe(check);
    expect(format.period).toBe(period);
  });
});

describe('compileFormat: refreshDaily', () => {
  it.each([
    ['{yyyy}-{value}', 'yearly', false],
    ['{yyyy}{mm}-{value}', 'yearly', true],
    ['{period}{dd}-{value}', 'yearly', true],
    ['{period}-{mm}-{value}', 'monthly', false],
    ['{period}-{dd}-{value}', 'monthly', true],
    ['{period}-{value}', 'daily', false],
    ['{yyyy}{mm}{dd}-{value}', 'none', false],
  ] as const)('%s (%s): %s', (template, period, refresh) => {
    expect(compileFormat(template, 'none', period, MAX_63).refreshDaily).toBe(refresh);
  });

  it('a yearly format showing {mm} needs a new instant within its period', () => {
    const format = compileFormat('{yyyy}{mm}-{value}', 'none', 'yearly', MAX_63);
    const january = at('yearly', '2026-01-15T12:00:00Z');
    const february = at('yearly', '2026-02-15T12:00:00Z');
    expect(january.endsAtMs).toBe(february.endsAtMs); // one cached instant would cover both …
    expect(format.render(1n, january)).not.toBe(format.render(1n, february)); // … yet they render differently
  });
});

describe('parse: only what render could have produced', () => {
  const yearly = compileFormat('INV-{yyyy}-{value:3}', 'none', 'yearly', MAX_63);
  it.each([
    ['too long', `INV-2026-${'1'.repeat(56)}`],
    ['another layout', 'INV/2026/042'],
    ['value 0', 'INV-2026-000'],
    ['padding it would not have', 'INV-2026-0042'],
    ['too little padding', 'INV-2026-42'],
    ['a year with a leading zero', 'INV-0999-042'],
    ['non-ASCII digits', 'INV-2026-٠٤٢'],
    ['the empty string', ''],
  ])('refuses %s', (_label, text) => {
    expect(yearly.parse(text)).toBeUndefined();
  });

  it('accepts exactly 64 characters and nothing longer', () => {
    const format = compileFormat('{value}', 'none', 'none', MAX_63);
    expect(format.parse('9'.repeat(64))?.value).toBe(10n ** 64n - 1n);
    expect(format.parse('9'.repeat(65))).toBeUndefined();
  });

  it('refuses impossible dates and fields that disagree', () => {
    const daily = compileFormat('{yyyy}{mm}{dd}-{value}', 'none', 'daily', MAX_63);
    expect(daily.parse('20280229-1')?.fields.period).toBe('2028-02-29');
    expect(daily.parse('20270229-1')).toBeUndefined();
    expect(daily.parse('20261301-1')).toBeUndefined();
    expect(daily.parse('20261100-1')).toBeUndefined();
    expect(daily.parse('20261131-1')).toBeUndefined();
    const both = compileFormat('{period}:{yy}:{value}', 'none', 'monthly', MAX_63);
    expect(both.parse('2026-11:26:5')?.value).toBe(5n);
    expect(both.parse('2026-11:27:5')).toBeUndefined();
    const twice = compileFormat('{mm}{value}{mm}{yyyy}', 'none', 'monthly', MAX_63);
    expect(twice.parse('1142112026')?.value).toBe(42n);
    expect(twice.parse('1142122026')).toBeUndefined();
  });

  it('a pathological text is read quickly (no exponential backtracking)', () => {
    const format = compileFormat('{value}-{yyyy}-{mm}', 'luhn', 'monthly', MAX_63);
    const started = performance.now();
    for (let index = 0; index < 1000; index++) expect(format.parse(`${'1'.repeat(60)}-20x`)).toBeUndefined();
    console.log(`1000 failing parses of 63 characters: ${(performance.now() - started).toFixed(1)} ms`);
  });
});

describe('periodKeyOf', () => {
  it.each([
    ['{value}', 'none', '42', ''],
    ['{yyyy}-{value}', 'yearly', '2026-42', '2026'],
    ['{yy}-{value}', 'yearly', '26-42', undefined],
    ['{yy}{mm}-{value}', 'monthly', '2611-42', undefined],
    ['{yyyy}{mm}-{value}', 'monthly', '202611-42', '2026-11'],
    ['{period}-{value}', 'daily', '2026-11-30-42', '2026-11-30'],
    ['{yyyy}{mm}{dd}-{value}', 'daily', '20261130-42', '2026-11-30'],
  ] as const)('%s (%s): %s is in period %s', (template, period, text, key) => {
    const format = compileFormat(template, 'none', period, MAX_63);
    expect(format.periodKeyOf(format.parse(text)!)).toBe(key);
  });
});

// ---- properties over random templates ----------------------------------------------------------

type TestPart =
  | { kind: 'literal'; text: string }
  | { kind: 'value'; width: number }
  | { kind: 'check' }
  | { kind: 'yyyy' | 'yy' | 'mm' | 'dd' | 'period' };

interface Case {
  parts: TestPart[];
  template: string;
  check: CheckKind;
  period: Period;
  maxValue: bigint;
}

const literalArbitrary = fc
  .array(fc.constantFrom('A', 'z', '-', '/', '#', '.', '0', '7', '{', '}', 'é', '€', '😀', '(', '$', '\\'), { minLength: 1, maxLength: 4 })
  .map((characters): TestPart => ({ kind: 'literal', text: characters.join('') }));
const fieldArbitrary = fc.constantFrom<TestPart>({ kind: 'yyyy' }, { kind: 'yy' }, { kind: 'mm' }, { kind: 'dd' }, { kind: 'period' });

const caseArbitrary: fc.Arbitrary<Case> = fc
  .record({
    before: fc.array(fc.oneof(literalArbitrary, fieldArbitrary), { maxLength: 3 }),
    after: fc.array(fc.oneof(literalArbitrary, fieldArbitrary), { maxLength: 3 }),
    width: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 19 })),
    check: fc.constantFrom<CheckKind>('none', 'luhn', 'damm', 'mod97'),
    checkShown: fc.boolean(),
    checkAt: fc.nat(),
    period: fc.constantFrom<Period>('none', 'yearly', 'monthly', 'daily'),
    maxValue: fc.oneof(fc.bigInt({ min: 1n, max: MAX_63 }), fc.constant(MAX_63), fc.bigInt({ min: 1n, max: 10n ** 6n })),
  })
  .map(({ before, after, width, check, checkShown, checkAt, period, maxValue }) => {
    let parts: TestPart[] = [...before, { kind: 'value', width }, ...after];
    if (period === 'none') parts = parts.filter((part) => part.kind !== 'period');
    if (check !== 'none' && checkShown) parts.splice(checkAt % (parts.length + 1), 0, { kind: 'check' });
    const has = (kind: TestPart['kind']) => parts.some((part) => part.kind === kind);
    const year = has('yyyy') || has('yy');
    const covered =
      period === 'none' ||
      has('period') ||
      (period === 'yearly' && year) ||
      (period === 'monthly' && year && has('mm')) ||
      (period === 'daily' && year && has('mm') && has('dd'));
    if (!covered) parts.push({ kind: 'literal', text: '_' }, { kind: 'period' });
    const template = parts
      .map((part) => {
        if (part.kind === 'literal') return part.text.replaceAll('{', '{{').replaceAll('}', '}}');
        if (part.kind === 'value') return part.width === 0 ? '{value}' : `{value:${part.width}}`;
        return `{${part.kind}}`;
      })
      .join('');
    return { parts, template, check, period, maxValue };
  });

/** An independent renderer: the expected text, and where the value's digits sit in it. */
function expected(testCase: Case, value: bigint, instant: PeriodInstant): { text: string; valueStart: number; valueEnd: number } {
  const digits = value.toString();
  const check = testCase.check === 'none' ? '' : computeCheck(testCase.check, digits);
  const checkShown = testCase.parts.some((part) => part.kind === 'check');
  let text = '';
  let valueStart = 0;
  let valueEnd = 0;
  for (const part of testCase.parts) {
    if (part.kind === 'literal') text += part.text;
    else if (part.kind === 'value') {
      valueStart = text.length;
      text += digits.padStart(part.width, '0');
      valueEnd = text.length;
      if (!checkShown) text += check;
    } else if (part.kind === 'check') text += check;
    else if (part.kind === 'yy') text += instant.yyyy.slice(2);
    else if (part.kind === 'period') text += instant.key;
    else text += instant[part.kind];
  }
  return { text, valueStart, valueEnd };
}

function tryCompile(testCase: Case): TicketFormat | undefined {
  try {
    return compileFormat(testCase.template, testCase.check, testCase.period, testCase.maxValue);
  } catch (error) {
    // Only the length bound may refuse a generated template.
    expect((error as Error).message).toMatch(/more than 64/);
    return undefined;
  }
}

const zoneArbitrary = fc.constantFrom('UTC', 'America/Los_Angeles', 'Pacific/Kiritimati', 'America/Santiago', 'Asia/Kolkata');
const instantArbitrary = fc.integer({ min: 0, max: Date.UTC(9999, 11, 30) });
const valueFor = (maxValue: bigint) => fc.oneof(fc.bigInt({ min: 1n, max: maxValue }), fc.constant(maxValue), fc.constant(1n));

describe('properties over random templates', () => {
  it('render matches an independent renderer, stays within 64 characters, and parse gives everything back', () => {
    fc.assert(
      fc.property(caseArbitrary, zoneArbitrary, instantArbitrary, fc.nat(), (testCase, zone, t, seed) => {
        const format = tryCompile(testCase);
        fc.pre(format !== undefined);
        const value = (BigInt(seed) * 7919n + 1n) % testCase.maxValue + 1n;
        const instant = periodAt(testCase.period, zone, t);
        const text = format.render(value, instant);
        expect(text).toBe(expected(testCase, value, instant).text);
        expect(text.length).toBeLessThanOrEqual(MAX_FORMATTED_LENGTH);
        if (format.alwaysHasNonDigit) expect(text).toMatch(/[^0-9]/);
        const parsed = format.parse(text);
        expect(parsed, `${testCase.template} → ${text}`).toBeDefined();
        expect(parsed!.value).toBe(value);
        expect(parsed!.checkOk).toBe(true);
        const shown = new Set(testCase.parts.map((part) => part.kind));
        const fields = parsed!.fields;
        if (shown.has('yyyy')) expect(fields.yyyy).toBe(instant.yyyy);
        if (shown.has('yy') || shown.has('yyyy')) expect(fields.yy).toBe(instant.yyyy.slice(2));
        if (shown.has('mm')) expect(fields.mm).toBe(instant.mm);
        if (shown.has('dd')) expect(fields.dd).toBe(instant.dd);
        const key = format.periodKeyOf(parsed!);
        const centuryUnknown = testCase.period !== 'none' && !shown.has('period') && !shown.has('yyyy');
        expect(key).toBe(centuryUnknown ? undefined : instant.key);
      }),
      { numRuns: 1500 },
    );
  });

  it('render is injective in (value, period key): near neighbours never collide', () => {
    // {yy} repeats every 100 years, so instants stay within one century here.
    const centuryInstant = fc.integer({ min: Date.UTC(2000, 0, 2), max: Date.UTC(2099, 11, 30) });
    fc.assert(
      fc.property(caseArbitrary, zoneArbitrary, centuryInstant, valueFor(10n ** 12n), (testCase, zone, t, rawValue) => {
        const format = tryCompile(testCase);
        fc.pre(format !== undefined && testCase.period !== 'none');
        const value = ((rawValue - 1n) % testCase.maxValue) + 1n;
        const instant = periodAt(testCase.period, zone, t);
        const neighbours = [periodAt(testCase.period, zone, instant.startsAtMs - 1), instant, periodAt(testCase.period, zone, instant.endsAtMs)];
        const values = [value, value + 1n, value * 10n, value * 10n + 1n, value / 10n, value - 1n].filter((v) => v >= 1n && v <= testCase.maxValue);
        const seen = new Map<string, string>();
        for (const other of neighbours) {
          for (const v of values) {
            const pair = `${v}@${other.key}`;
            const text = format.render(v, other);
            const earlier = seen.get(text);
            if (earlier !== undefined && earlier !== pair) throw new Error(`${testCase.template}: ${earlier} and ${pair} both render ${text}`);
            seen.set(text, pair);
          }
        }
      }),
      { numRuns: 800 },
    );
  });

  it('one changed digit in the value part of a check-digit format gives checkOk false or undefined', () => {
    fc.assert(
      fc.property(caseArbitrary, zoneArbitrary, instantArbitrary, valueFor(MAX_63), fc.nat(), fc.integer({ min: 1, max: 9 }), (testCase, zone, t, rawValue, where, shift) => {
        fc.pre(testCase.check !== 'none');
        const format = tryCompile(testCase);
        fc.pre(format !== undefined);
        const value = ((rawValue - 1n) % testCase.maxValue) + 1n;
        const instant = periodAt(testCase.period, zone, t);
        const { text, valueStart, valueEnd } = expected(testCase, value, instant);
        const index = valueStart + (where % (valueEnd - valueStart));
        const mistyped = text.slice(0, index) + String((Number(text[index]) + shift) % 10) + text.slice(index + 1);
        const parsed = format.parse(mistyped);
        if (parsed !== undefined) expect(parsed.checkOk, `${testCase.template}: ${text} → ${mistyped}`).toBe(false);
      }),
      { numRuns: 1500 },
    );
  });
});
