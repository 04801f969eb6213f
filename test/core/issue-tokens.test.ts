/** The token file format and the authorization rule, without a server. */
import { describe, expect, it } from 'vitest';
import { IssueTokens, TokenFileError, TokenScopeError, authorizeIssue, bearerToken } from '../../src/core/issue-tokens.js';

const A = 'aaaaaaaaaaaaaaaa-token';
const B = 'bbbbbbbbbbbbbbbb-token';

describe('IssueTokens.parse', () => {
  it('reads entries, comments, blank lines, several prefixes and the trusted flag', () => {
    const tokens = IssueTokens.parse(`# comment\n\n${A} orders,inv- trusted\r\n  ${B}   *  \n`);
    expect(tokens.size).toBe(2);
    const a = tokens.find(A);
    expect(a?.trusted).toBe(true);
    expect(a?.covers('orders')).toBe(true);
    expect(a?.covers('orders-eu')).toBe(true);
    expect(a?.covers('inv-1')).toBe(true);
    expect(a?.covers('inv')).toBe(false);
    expect(a?.covers('payments')).toBe(false);
    expect(tokens.find(B)?.covers('anything at all')).toBe(true);
    expect(tokens.find(B)?.trusted).toBe(false);
  });

  it.each([
    ['', /no token/],
    [`${A}\n`, /line 1: expected TOKEN PREFIX/],
    [`short orders\n`, /line 1: a token is 16-256/],
    [`${A} orders yes\n`, /line 1: the third word may only be "trusted"/],
    [`${A} orders,,inv\n`, /line 1: prefixes are/],
    [`${A} orders\n${A} inv\n`, /line 2: the same token appears twice/],
  ])('refuses %j', (text, message) => {
    expect(() => IssueTokens.parse(text)).toThrow(TokenFileError);
    expect(() => IssueTokens.parse(text)).toThrow(message);
  });

  it('never puts a token in its messages', () => {
    try {
      IssueTokens.parse(`${A} orders\n${A} orders\n`);
    } catch (error) {
      expect((error as Error).message).not.toContain(A);
    }
  });

  it('finds nothing for no, empty, unknown, overlong or prefix-of-a-real tokens', () => {
    const tokens = IssueTokens.parse(`${A} *\n`);
    for (const given of [undefined, '', B, A.slice(0, -1), `${A}x`, 'x'.repeat(300)]) expect(tokens.find(given)).toBeUndefined();
  });
});

describe('authorizeIssue', () => {
  const tokens = IssueTokens.parse(`${A} orders trusted\n${B} orders\n`);

  it('EAUTH (401) without a grant; EAUTH (403) outside its prefixes', () => {
    expect(() => authorizeIssue(undefined, 'orders', undefined)).toThrow(expect.objectContaining({ code: 'EAUTH', status: 401 }));
    expect(() => authorizeIssue(tokens.find(A), 'payments', undefined)).toThrow(TokenScopeError);
    expect(() => authorizeIssue(tokens.find(A), 'payments', undefined)).toThrow(expect.objectContaining({ code: 'EAUTH', status: 403 }));
  });

  it('keeps last for trusted tokens only', () => {
    expect(authorizeIssue(tokens.find(A), 'orders', 7n)).toBe(7n);
    expect(authorizeIssue(tokens.find(B), 'orders', 7n)).toBeUndefined();
  });
});

describe('bearerToken', () => {
  it.each([
    [`Bearer ${A}`, A],
    [`bearer ${A}`, A],
    [`Basic ${A}`, undefined],
    ['Bearer', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
