/**
 * Z85 (ZeroMQ RFC 32), the text form of CurveZMQ keys: 32-byte keys are 40
 * characters. Needed to derive a public key from a secret key and to compare
 * the binary client keys ZAP hands over with an allow-list written in Z85.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Map([...ALPHABET].map((char, index) => [char, index]));

/** Encodes bytes (a multiple of 4 long) as Z85. @throws RangeError otherwise */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError('Z85 encodes a multiple of 4 bytes');
  let text = '';
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = ((bytes[offset] as number) * 0x1000000) + (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number));
    const chunk: string[] = [];
    for (let index = 0; index < 5; index++) {
      chunk.unshift(ALPHABET[value % 85] as string);
      value = Math.floor(value / 85);
    }
    text += chunk.join('');
  }
  return text;
}

/** Decodes Z85 text (a multiple of 5 long). @throws RangeError for other text */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new RangeError('Z85 text is a multiple of 5 characters');
  const bytes = Buffer.alloc((text.length / 5) * 4);
  for (let offset = 0; offset < text.length; offset += 5) {
    let value = 0;
    for (let index = 0; index < 5; index++) {
      const digit = DECODE.get(text[offset + index] as string);
      if (digit === undefined) throw new RangeError('not a Z85 character');
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new RangeError('Z85 group out of range');
    bytes.writeUInt32BE(value, (offset / 5) * 4);
  }
  return bytes;
}
