/**
 * The takeover SOURCE parsers (docs/takeover.md): every form with good input,
 * big values exact (as strings and as bare JSON numbers above 2^53), and
 * every malformed form refused with a message naming the source.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_VALUE, SlotMap } from '../../src/core/numbering.js';
import {
  TICKETD_FLOOR,
  TakeoverSourceError,
  classifySource,
  mergeFloors,
  parseSequencesJson,
  parseTxnidProgress,
  sequencesJsonFloors,
  tickrFloor,
  txnidFloor,
} from '../../src/takeover/sources.js';
import { parseDatabaseSource } from '../../src/takeover/database-sources.js';
import { ConfigError } from '../../src/config/options.js';
import { checkFloorsFit, readSource, takeSequenceOption } from '../../src/takeover/takeover.js';

/** The message of the TakeoverSourceError `action` throws. */
function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TakeoverSourceError);
    return (error as Error).message;
  }
  throw new Error('expected a TakeoverSourceError');
}

describe('classifySource', () => {
  it('reads a decimal value from 0 to 2^63 - 1', () => {
    expect(classifySource('0')).toMatchObject({ kind: 'value', floor: 0n });
    expect(classifySource('9223372036854775807')).toMatchObject({ kind: 'value', floor: MAX_VALUE });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_VALUE }), (value) => {
        expect(classifySource(value.toString())).toMatchObject({ kind: 'value', floor: value });
      }),
    );
  });

  it('refuses values above 2^63 - 1 and overlong digit strings', () => {
    expect(refusal(() => classifySource('9223372036854775808'))).toContain('SOURCE 9223372036854775808');
    expect(refusal(() => classifySource('1'.repeat(30)))).toContain('2^63 - 1');
  });

  it('knows every other form', () => {
    expect(classifySource('ticketd')).toMatchObject({ kind: 'ticketd' });
    expect(classifySource('seqgen:/x/sequences.json')).toMatchObject({ kind: 'sequences-json', file: '/x/sequences.json' });
    expect(classifySource('ticket-server:rel.json')).toMatchObject({ kind: 'sequences-json', file: 'rel.json' });
    expect(classifySource('txnid:/etc/txnidserver/txnid.dat')).toMatchObject({ kind: 'txnid', file: '/etc/txnidserver/txnid.dat' });
    expect(classifySource('mysql://u:p@h/db?table=t')).toMatchObject({ kind: 'database' });
    expect(classifySource('postgresql://u:p@h/db?sequence=s')).toMatchObject({ kind: 'database' });
  });

  it.each([
    ['', 'unknown SOURCE'],
    ['-5', 'unknown SOURCE'],
    ['1.5', 'unknown SOURCE'],
    ['ticketd2', 'unknown SOURCE'],
    ['redis://host/0', 'unknown SOURCE "redis:…"'],
    ['seqgen:', 'needs a file'],
    ['txnid:', 'needs a file'],
    ['x'.repeat(5000), 'longer than'],
  ])('refuses %j', (source, message) => {
    expect(refusal(() => classifySource(source))).toContain(message);
  });

  it('never echoes a password of an unknown scheme', () => {
    expect(refusal(() => classifySource('redis://user:hunter2@host/0'))).not.toContain('hunter2');
  });
});

describe('parseSequencesJson', () => {
  it('reads numbers and decimal strings, exactly', () => {
    const text = '{"orders": 42, "invoices": "9223372036854775807", "big": 9007199254740993, "zero": 0}';
    expect(parseSequencesJson(text, 'seqgen:f')).toEqual([
      { name: 'orders', value: 42n },
      { name: 'invoices', value: MAX_VALUE },
      { name: 'big', value: 9007199254740993n },
      { name: 'zero', value: 0n },
    ]);
  });

  it('keeps every integer up to 2^63 - 1 exact, as a bare number and as a string (JSON.parse would round)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_VALUE }), fc.boolean(), (value, quoted) => {
        const token = quoted ? `"${value}"` : value.toString();
        expect(parseSequencesJson(`{"s":${token}}`, 'seqgen:f')).toEqual([{ name: 's', value }]);
      }),
    );
    // The reason for the tokenizer: a double cannot hold this value.
    expect(BigInt(JSON.parse('9007199254740993') as number)).not.toBe(9007199254740993n);
  });

  it('reads names with JSON escapes, whitespace, a BOM and an empty object', () => {
    expect(parseSequencesJson('\ufeff {\n\t"a\\"b\\u00e9" :\r\n 7 \n}\n', 'f')).toEqual([{ name: 'a"bé', value: 7n }]);
    expect(parseSequencesJson('{}', 'f')).toEqual([]);
    expect(parseSequencesJson(' { } ', 'f')).toEqual([]);
  });

  it('keeps the highest value of a name given twice', () => {
    expect(parseSequencesJson('{"a": 9, "a": 3}', 'f')).toEqual([{ name: 'a', value: 9n }]);
    expect(parseSequencesJson('{"a": 3, "a": "9"}', 'f')).toEqual([{ name: 'a', value: 9n }]);
  });

  it('reads any set of valid names and values the way JSON.stringify writes them', () => {
    // eslint-disable-next-line no-control-regex
    const name = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/.test(s));
    fc.assert(
      fc.property(fc.dictionary(name, fc.bigInt({ min: 0n, max: MAX_VALUE }), { maxKeys: 8 }), (entries) => {
        const text = `{${Object.entries(entries)
          .map(([key, value]) => `${JSON.stringify(key)}: ${value}`)
          .join(',\n')}}`;
        const parsed = parseSequencesJson(text, 'f');
        expect(new Map(parsed.map(({ name: n, value }) => [n, value]))).toEqual(new Map(Object.entries(entries)));
      }),
    );
  });

  it.each([
    ['', 'a JSON object'],
    ['[]', 'a JSON object'],
    ['{"a": 1', '"," or "}"'],
    ['{"a": 1,}', 'quoted sequence name'],
    ['{a: 1}', 'quoted sequence name'],
    ['{"a" 1}', '":"'],
    ['{"a": -1}', 'non-negative integer'],
    ['{"a": 1.5}', 'non-negative integer'],
    ['{"a": 1e3}', 'non-negative integer'],
    ['{"a": "12x"}', 'non-negative integer'],
    ['{"a": ""}', 'non-negative integer'],
    ['{"a": null}', 'integer or a decimal string'],
    ['{"a": {"b": 1}}', 'integer or a decimal string'],
    ['{"a": true}', 'integer or a decimal string'],
    ['{"a": 9223372036854775808}', 'above 2^63 - 1'],
    ['{"a": "99999999999999999999999"}', 'above 2^63 - 1'],
    ['{"": 1}', 'must not be empty'],
    ['{"a\\u0001": 1}', 'control characters'],
    [`{"${'n'.repeat(129)}": 1}`, 'longer than 128 bytes'],
    ['{"a": 1} x', 'unexpected text'],
    ['{"a": 1}{}', 'unexpected text'],
    ['{"a\nb": 1}', 'quoted sequence name'],
  ])('refuses %j naming the source', (text, message) => {
    const error = refusal(() => parseSequencesJson(text, 'seqgen:/srv/sequences.json'));
    expect(error).toContain('seqgen:/srv/sequences.json');
    expect(error).toContain(message);
  });
});

describe('sequencesJsonFloors', () => {
  const entries = [
    { name: 'a', value: 5n },
    { name: 'b', value: 7n },
  ];

  it('sets every entry without --sequence', () => {
    expect(sequencesJsonFloors(entries, 'L')).toEqual([
      { name: 'a', floor: 5n, source: 'L' },
      { name: 'b', floor: 7n, source: 'L' },
    ]);
  });

  it('sets only the named entry with --sequence, and refuses a name the file does not have', () => {
    expect(sequencesJsonFloors(entries, 'L', 'b')).toEqual([{ name: 'b', floor: 7n, source: 'L' }]);
    expect(refusal(() => sequencesJsonFloors(entries, 'L', 'c'))).toContain('L has no entry for --sequence "c"');
  });
});

describe('parseTxnidProgress and txnidFloor', () => {
  it('reads base|counter|increment| with or without a trailing newline', () => {
    expect(parseTxnidProgress('12|345|1|', 'txnid:f')).toEqual({ base: 12n, counter: 345, increment: 1 });
    expect(parseTxnidProgress('12|345|1|\n', 'txnid:f')).toEqual({ base: 12n, counter: 345, increment: 1 });
    expect(parseTxnidProgress('0|0|32767|\r\n', 'txnid:f')).toEqual({ base: 0n, counter: 0, increment: 32767 });
  });

  it('floors below (base + 1) × 65536', () => {
    expect(txnidFloor({ base: 0n, counter: 0, increment: 1 })).toBe(65_535n);
    expect(txnidFloor({ base: 12n, counter: 0, increment: 1 })).toBe(13n * 65_536n - 1n);
    const maxBase = (1n << 47n) - 1n;
    expect(txnidFloor(parseTxnidProgress(`${maxBase}|0|1|`, 'f'))).toBe(MAX_VALUE);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: maxBase }), fc.integer({ min: 0, max: 65_535 }), (base, counter) => {
        // Every value the server may issue from this base: base << 16 | counter.
        expect(txnidFloor(parseTxnidProgress(`${base}|${counter}|1|`, 'f'))).toBeGreaterThanOrEqual((base << 16n) | BigInt(counter));
      }),
    );
  });

  it.each([
    ['', 'not a txn-id-server progress file'],
    ['12|345|1', 'not a txn-id-server progress file'],
    ['12|345|1|\n\n', 'not a txn-id-server progress file'],
    [' 12|345|1|', 'not a txn-id-server progress file'],
    ['-1|0|1|', 'not a txn-id-server progress file'],
    ['12|345|1|extra|', 'not a txn-id-server progress file'],
    ['0x10|0|1|', 'not a txn-id-server progress file'],
    ['12;345;1;', 'not a txn-id-server progress file'],
    ['12|65536|1|', 'counter 65536 is above 65535'],
    ['12|0|0|', 'increment 0 is outside 1..32767'],
    ['12|0|32768|', 'increment 32768 is outside 1..32767'],
    [`${1n << 47n}|0|1|`, 'would pass 2^63 - 1'],
    ['123456789012345678901|0|1|', 'not a txn-id-server progress file'],
  ])('refuses %j naming the source', (text, message) => {
    const error = refusal(() => parseTxnidProgress(text, 'txnid:/etc/txnid.dat'));
    expect(error).toContain('txnid:/etc/txnid.dat');
    expect(error).toContain(message);
  });
});

describe('tickrFloor', () => {
  /** Tickr's own arithmetic (lib/ticket.rb): the ticket a node makes from database id `id`. */
  const tickrTicket = (id: bigint, nodes: bigint, node: bigint, offset: bigint): bigint => (id - 2n) * nodes + node + offset;

  it('is at least every ticket any node made from ids up to the last one', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n, max: 1n << 40n }),
        fc.bigInt({ min: 1n, max: 1024n }),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        (lastId, nodes, offset) => {
          const floor = tickrFloor(lastId, { nodes, offset });
          for (const node of [0n, nodes - 1n]) expect(floor).toBeGreaterThanOrEqual(tickrTicket(lastId, nodes, node, offset));
          // …and no higher than needed: the highest node's ticket itself.
          expect(floor).toBe(tickrTicket(lastId, nodes, nodes - 1n, offset));
        },
      ),
    );
  });

  it('matches the README example: offset 1,000,001 after the seed row (id 1) issues nothing below it', () => {
    expect(tickrFloor(1n, { nodes: 1n, offset: 1_000_001n })).toBe(1_000_000n);
    expect(tickrFloor(2n, { nodes: 4n, offset: 54_313_001n })).toBe(54_313_004n);
    expect(tickrFloor(0n, { nodes: 1n, offset: 0n })).toBe(0n);
  });
});

describe('mergeFloors', () => {
  it('keeps the highest floor per sequence', () => {
    expect(
      mergeFloors([
        { name: 'a', floor: 5n, source: 'x' },
        { name: 'b', floor: 1n, source: 'x' },
        { name: 'a', floor: 9n, source: 'y' },
        { name: 'a', floor: 7n, source: 'z' },
      ]),
    ).toEqual([
      { name: 'a', floor: 9n, source: 'y' },
      { name: 'b', floor: 1n, source: 'x' },
    ]);
  });
});

describe('checkFloorsFit', () => {
  it('refuses a floor that leaves no value for the numbering', () => {
    const map = new SlotMap({ instance: 2, instances: 2, offset: 1n });
    expect(() => checkFloorsFit([{ name: 'a', floor: MAX_VALUE - 3n, source: 's' }], map)).not.toThrow();
    expect(refusal(() => checkFloorsFit([{ name: 'a', floor: MAX_VALUE - 1n, source: 's' }], map))).toContain('s: floor');
  });
});

describe('readSource', () => {
  it('targets --sequence, default "default"', async () => {
    expect(await readSource('ticketd', undefined)).toEqual([{ name: 'default', floor: TICKETD_FLOOR, source: 'ticketd' }]);
    expect(await readSource('17', 'orders')).toEqual([{ name: 'orders', floor: 17n, source: '17' }]);
  });

  it('names a file it cannot read', async () => {
    await expect(readSource('txnid:/nonexistent/txnid.dat', undefined)).rejects.toThrow('txnid:/nonexistent/txnid.dat: cannot read: no such file');
    await expect(readSource('seqgen:/', undefined)).rejects.toThrow('seqgen:/: not a regular file');
  });
});

describe('parseDatabaseSource', () => {
  it('reads MySQL tables with default column id, and Tickr settings', () => {
    expect(parseDatabaseSource('mysql://u:pw@127.0.0.1:3306/tickr?table=tickets')).toMatchObject({
      kind: 'mysql-table',
      table: 'tickets',
      column: 'id',
      tickr: undefined,
      label: 'mysql://u@127.0.0.1:3306/tickr?table=tickets',
    });
    expect(parseDatabaseSource('mysql://u:pw@h/db?table=Tickets64&column=id2&nodes=4&offset=1000001')).toMatchObject({
      table: 'Tickets64',
      column: 'id2',
      tickr: { nodes: 4n, offset: 1_000_001n },
    });
  });

  it('reads PostgreSQL sequences and tables, schema-qualified too', () => {
    expect(parseDatabaseSource('postgres://u:pw@h:5432/db?sequence=public.orders_id_seq')).toMatchObject({
      kind: 'postgres-sequence',
      sequence: 'public.orders_id_seq',
    });
    expect(parseDatabaseSource('postgresql://u@h/db?table=orders')).toMatchObject({ kind: 'postgres-table', table: 'orders', column: 'id' });
  });

  it.each([
    ['mysql://u:pw@h/db', 'needs ?table=T'],
    ['mysql://u:pw@h/db?table=t;drop', 'plain identifier'],
    ['mysql://u:pw@h/db?table=t%60x', 'plain identifier'],
    ['mysql://u:pw@h/db?table=a.b', 'plain identifier'],
    ['mysql://u:pw@h/db?table=t&column=c%20d', 'plain identifier'],
    [`mysql://u:pw@h/db?table=${'t'.repeat(65)}`, 'plain identifier'],
    ['mysql://u:pw@h/db?table=t&sequence=s', 'unknown parameter "sequence"'],
    ['mysql://u:pw@h/db?table=t&table=u', 'given twice'],
    ['mysql://u:pw@h/db?table=t&nodes=4', 'both nodes'],
    ['mysql://u:pw@h/db?table=t&nodes=0&offset=1', 'nodes must be'],
    ['mysql://u:pw@h/db?table=t&nodes=2&offset=-1', 'offset must be'],
    ['mysql://u:pw@h/?table=t', 'database name'],
    ['postgres://u:pw@h/db', 'exactly one of'],
    ['postgres://u:pw@h/db?sequence=s&table=t', 'exactly one of'],
    ['postgres://u:pw@h/db?sequence=s&column=c', 'column applies to'],
    ['postgres://u:pw@h/db?sequence=a.b.c', 'plain identifier'],
    ['postgres://u:pw@h/db?table="x"', 'plain identifier'],
    ['postgres://u:pw@h/db?table=t&nodes=2', 'unknown parameter "nodes"'],
    ['postgres://u:pw@h/db?table=t&sslmode=require', 'unknown parameter "sslmode"'],
  ])('refuses %s without showing the password', (source, message) => {
    const error = refusal(() => parseDatabaseSource(source));
    expect(error).toContain(message);
    expect(error).not.toContain('pw');
  });
});

describe('takeSequenceOption', () => {
  it('takes --sequence NAME and --sequence=NAME out, leaving the rest in order', () => {
    expect(takeSequenceOption(['takeover', '5', '--sequence', 'orders', '--data', 'd'])).toEqual({
      sequence: 'orders',
      rest: ['takeover', '5', '--data', 'd'],
    });
    expect(takeSequenceOption(['takeover', '--sequence=a b', 'ticketd'])).toEqual({ sequence: 'a b', rest: ['takeover', 'ticketd'] });
    expect(takeSequenceOption(['takeover', '5'])).toEqual({ sequence: undefined, rest: ['takeover', '5'] });
  });

  it.each([
    [['takeover', '5', '--sequence'], 'expected a sequence NAME'],
    [['takeover', '--sequence', 'a', '--sequence', 'b'], 'given twice'],
    [['takeover', '--sequence='], 'must not be empty'],
    [['takeover', '--sequence', 'a\u0007'], 'control characters'],
  ])('refuses %j', (argv, message) => {
    expect(() => takeSequenceOption(argv)).toThrow(ConfigError);
    expect(() => takeSequenceOption(argv)).toThrow(message);
  });
});
