/**
 * Reply decoding on the client side: the one-pass value reader gives exactly
 * what the general way (JSON.parse + decodeReply, split + BigInt) gives, and
 * hands anything else to the general way so errors stay the same.
 */
import { describe, expect, it } from 'vitest';
import { decodeReply, decodeReplyText, parseValueList } from '../../src/client/reply.js';

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

describe('decodeReplyText', () => {
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
    expect(parseValueList('1 22 333', 0, 8, 0x20, false)).toEqual([1n, 22n, 333n]);
    expect(parseValueList(`${MAX}`, 0, 19, 0x20, false)).toEqual([MAX]);
    for (const bad of ['', ' ', '1 ', ' 1', '1  2', '1 x', '12345678901234567890', '-1', '1,2']) {
      expect(parseValueList(bad, 0, bad.length, 0x20, false), JSON.stringify(bad)).toBeUndefined();
    }
  });
});
