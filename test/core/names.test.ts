import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TicketError } from '../../src/core/errors.js';
import { MAX_NAME_BYTES, validateSequenceName } from '../../src/core/names.js';

function nameError(name: unknown): TicketError | undefined {
  try {
    validateSequenceName(name);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    return error as TicketError;
  }
}

describe('validateSequenceName', () => {
  it.each([
    ['a single character', 'a'],
    ['the default sequence', 'default'],
    ['punctuation and spaces', 'invoices/2024 Q1-#7'],
    ['128 ASCII bytes', 'x'.repeat(128)],
    ['42 × "€" (126 bytes)', '€'.repeat(42)],
    ['32 emoji (128 bytes in surrogate pairs)', '😀'.repeat(32)],
    ['a non-breaking space (not a control character)', 'a\u00a0b'],
  ])('accepts %s and returns it unchanged', (_label, name) => {
    expect(validateSequenceName(name)).toBe(name);
  });

  it.each([
    ['the empty string', ''],
    ['129 ASCII bytes', 'x'.repeat(129)],
    ['43 × "€" (129 bytes)', '€'.repeat(43)],
    ['33 emoji (132 bytes)', '😀'.repeat(33)],
    ['NUL', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['a tab', '\tname'],
    ['unit separator U+001F', 'a\u001f'],
    ['DEL U+007F', 'a\u007f'],
    ['NEL U+0085 (C1 control)', 'a\u0085b'],
    ['U+009F (last C1 control)', '\u009f'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone high surrogate at the end', 'abc\udbff'],
    ['a lone low surrogate', '\udc00abc'],
    ['a reversed surrogate pair', 'a\udc00\ud800'],
  ])('refuses %s with EBADNAME', (_label, name) => {
    expect(nameError(name)?.code).toBe('EBADNAME');
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { name: 'a' }],
    ['an array', ['a']],
    ['a Buffer', Buffer.from('a')],
  ])('refuses %s (not a string) with EBADNAME', (_label, name) => {
    expect(nameError(name)?.code).toBe('EBADNAME');
  });

  it('accepts a string exactly when it is 1–128 UTF-8 bytes, well-formed and free of control characters', () => {
    // Mostly ordinary code points and multibyte characters, now and then a control
    // character or a surrogate half, in lengths on both sides of the 128-byte bound.
    const unit = fc.oneof(
      { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 10 },
      { arbitrary: fc.constantFrom('a', '€', '😀', 'é', '\u00a0'), weight: 10 },
      { arbitrary: fc.constantFrom('\u0000', '\n', '\u007f', '\u0085', '\ud800', '\udfff'), weight: 1 },
    );
    const nameArb = fc.oneof(fc.string({ unit, maxLength: 8 }), fc.string({ unit, minLength: 25, maxLength: 140, size: 'max' }));
    fc.assert(
      fc.property(nameArb, (name) => {
        // With the u flag a valid surrogate pair is one code point, so \p{Cs} finds only lone halves.
        const bytes = Buffer.byteLength(name, 'utf8');
        const expected =
          bytes >= 1 && bytes <= MAX_NAME_BYTES && !/\p{Cs}/u.test(name) && !/\p{Cc}/u.test(name);
        expect(nameError(name) === undefined).toBe(expected);
      }),
    );
  });
});
