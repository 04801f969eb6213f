/** Z85 against the RFC 32 test vector and zeromq's own key pairs. */
import { curveKeyPair } from 'zeromq';
import { describe, expect, it } from 'vitest';
import { z85Decode, z85Encode } from '../../src/security/z85.js';
import { curvePublicKeyOf } from '../../src/security/security-files.js';

describe('z85', () => {
  it('encodes and decodes the RFC 32 example', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(bytes);
  });

  it('refuses text of the wrong length or alphabet', () => {
    expect(() => z85Decode('Hello')).not.toThrow();
    expect(() => z85Decode('Hell')).toThrow(RangeError);
    expect(() => z85Decode('Hell"')).toThrow(RangeError);
  });

  it('derives the public key zeromq pairs with a secret key', () => {
    for (let index = 0; index < 5; index++) {
      const pair = curveKeyPair();
      expect(curvePublicKeyOf(pair.secretKey)).toBe(pair.publicKey);
    }
  });
});
