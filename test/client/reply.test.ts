/**
 * Reply decoding on the client side: the one-pass value reader gives exactly
 * what the general way (JSON.parse + decodeReply, split + BigInt) gives, and
 * hands anything else to the general way so errors stay the same.
 */
import { describe, expect, it } from 'vitest';
import { TicketRun, checkValueCount, decodeReply, decodeReplyBody, parseValueList, parseValueRun } from '../../src/client/reply.js';

/** The client reads replies as the bytes that came: these helpers take text for readability. */
const bytes = (text: string): Buffer => Buffer.from(text);
function decodeReplyText(text: string, run = false): ReturnType<typeof decodeReplyBody> {
  return decodeReplyBody(bytes(text), run);
}
/** `parseValueList` over the whole of `text` as bytes. */
function list(text: string, separator: number, quoted: boolean): bigint[] | undefined {
  return parseValueList(bytes(text), 0, Buffer.byteLength(text), separator, quoted);
}
function runOf(text: string, separator: number, quoted: boolean): TicketRun | undefined {
  return parseValueRun(bytes(text), 0, Buffer.byteLength(text), separator, quoted);
}

const MAX = 9_223_372_036_854_775_807n;

function general(text: string): unknown {
  try {
    return decodeReply(JSON.parse(text));
  } catch (error) {
    return { thrown: (error as { code?: string }).code ?? (error as Error).name };
  }
}

function fast(text: string): unknown {
  try {
    return decodeReplyText(text);
  } catch (error) {
    return { thrown: (error as { code?: string }).code ?? (error as Error).name };
  }
}

describe('decodeReplyBody', () => {
  it('equals JSON.parse + decodeReply for values of every length, lists and errors', () => {
    const values = [0n, 7n, 10n, 99n, 123_456_789_012_345n, 999_999_999_999_999n, 1_000_000_000_000_000n, 9_007_199_254_740_993n, MAX];
    const texts = [
      ...values.map((value) => `[null,"${value}"]`),
      `[null,[${values.map((value) => `"${value}"`).join(',')}]]`,
      `[null,["1"]]`,
      `[null,[]]`,
      `["ENOSEQ","no such sequence"]`,
      `["EWHAT","unknown code"]`,
      `[null, ["1", "2"]]`,
      `[null,["1",]]`,
      `[null,["1","x"]]`,
      `[null,["01","2"]]`,
      `[null,"12345678901234567890"]`,
      `[null,"-1"]`,
      `[null,1]`,
      `[null,"\\u0031"]`,
      `[null,["1""2"]]`,
      `[null,"1",]`,
      `[null,["Nº-1","Nº-2"]]`,
      `[null,"Rechnung—7"]`,
      `not json`,
    ];
    for (const text of texts) expect(fast(text), text).toEqual(general(text));
  });

  it('returns bigints for a list of 1000 consecutive values across a digit boundary', () => {
    const list = Array.from({ length: 1000 }, (_, index) => 999_999_999_999_500n + BigInt(index));
    expect(decodeReplyText(`[null,[${list.map((value) => `"${value}"`).join(',')}]]`)).toEqual(list);
  });
});

describe('parseValueList (line replies)', () => {
  it('reads space-separated values and refuses anything else', () => {
    expect(list('1 22 333', 0x20, false)).toEqual([1n, 22n, 333n]);
    expect(list(`${MAX}`, 0x20, false)).toEqual([MAX]);
    // A reply line is a view into a larger read: nothing past its end counts, digits included.
    expect(parseValueList(bytes('1 2345'), 0, 3, 0x20, false)).toEqual([1n, 2n]);
    expect(parseValueRun(bytes('1 2345'), 0, 3, 0x20, false)?.toArray()).toEqual([1n, 2n]);
    expect(parseValueList(bytes('9 12345678901234567890'), 2, 21, 0x20, false)).toEqual([1234567890123456789n]);
    for (const bad of ['', ' ', '1 ', ' 1', '1  2', '1 x', '12345678901234567890', '-1', '1,2']) {
      expect(list(bad, 0x20, false), JSON.stringify(bad)).toBeUndefined();
    }
  });
});

describe('parseValueRun (batches for a prefetching client)', () => {
  const quotedList = (values: readonly (bigint | string)[]): string => values.map((value) => `"${value}"`).join(',');

  it('is a run of the same values as parseValueList when they are consecutive numbers of up to 15 digits, else undefined', () => {
    const lists: Array<readonly (bigint | string)[]> = [
      [1n],
      [7n, 8n, 9n],
      Array.from({ length: 1000 }, (_, index) => 98_500n + BigInt(index)), // 5 → 6 digits
      Array.from({ length: 30 }, (_, index) => 999_999_999_999_990n + BigInt(index)), // 15 → 16 digits: no run
      [1n, 2n, 4n], // a jump (lease boundary): no run
      [3n, 2n],
      [5n, 5n],
      ['01', '2'], // leading zero: the same values as the list reads them
      [MAX - 1n, MAX],
      ['1', 'x'],
      ['', '1'],
    ];
    for (const values of lists) {
      for (const [text, separator, quoted] of [
        [quotedList(values), 0x2c, true],
        [values.join(' '), 0x20, false],
      ] as const) {
        const run = runOf(text, separator, quoted);
        const values = list(text, separator, quoted);
        const consecutive = values !== undefined && values.every((value, index) => value < 10n ** 15n && (index === 0 || value === (values[index - 1] as bigint) + 1n));
        expect(run !== undefined, text.slice(0, 40)).toBe(consecutive);
        if (run !== undefined) expect(run.toArray(), text.slice(0, 40)).toEqual(values);
      }
    }
    for (const bad of ['', ' ', '1 ', ' 1', '1  2', '1 x', '-1', '1,2']) expect(runOf(bad, 0x20, false), JSON.stringify(bad)).toBeUndefined();
  });

  it('decodeReplyBody(body, true) gives the same values, a run where they are consecutive', () => {
    const consecutive = `[null,[${quotedList([41n, 42n, 43n])}]]`;
    const run = decodeReplyText(consecutive, true);
    expect(run).toBeInstanceOf(TicketRun);
    expect((run as TicketRun).toArray()).toEqual([41n, 42n, 43n]);
    expect((run as TicketRun).first).toBe(41n);
    expect((run as TicketRun).last).toBe(43n);
    for (const text of [`[null,[${quotedList([1n, 3n])}]]`, `[null,"5"]`, `["ENOSEQ","no such sequence"]`, `[null,["INV-1","INV-2"]]`]) {
      expect(fast(text), text).toEqual(general(text));
      let viaRun: unknown;
      try {
        viaRun = decodeReplyText(text, true);
      } catch (error) {
        viaRun = { thrown: (error as { code?: string }).code };
      }
      expect(viaRun, text).toEqual(general(text));
    }
  });
});

describe('checkValueCount (every transport, and gathered requests)', () => {
  const code = (run: () => void): string | undefined => {
    try {
      run();
      return undefined;
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };

  it('takes as many values as asked for: one for the single form, `count` for a counted request (a list or a run)', () => {
    expect(code(() => checkValueCount(7n, undefined))).toBeUndefined();
    expect(code(() => checkValueCount('INV-1', undefined))).toBeUndefined();
    expect(code(() => checkValueCount([1n, 2n], 2))).toBeUndefined();
    expect(code(() => checkValueCount(new TicketRun(5n, 3), 3))).toBeUndefined();
  });

  it('refuses anything else with EINTERNAL, a list for the single form included', () => {
    expect(code(() => checkValueCount([1n], undefined))).toBe('EINTERNAL');
    expect(code(() => checkValueCount([1n, 2n], 3))).toBe('EINTERNAL');
    expect(code(() => checkValueCount(new TicketRun(5n, 2), 3))).toBe('EINTERNAL');
    expect(code(() => checkValueCount(1n, 2))).toBe('EINTERNAL');
  });
});
