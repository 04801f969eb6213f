/**
 * The store-independent part of leader mode: options are checked before
 * anything starts, and a leader record from the store is trusted only when
 * it is a well-formed `LeaderInfo`.
 */
import { describe, it, expect } from 'vitest';
import { LeaderElectionOptionsError, MAX_LEADER_ENDPOINT_LENGTH, electionSettings, parseLeaderInfo } from '../../src/leader/election.js';

describe('election options', () => {
  it('defaults to a 5 s TTL and a random id', () => {
    const a = electionSettings({});
    const b = electionSettings({});
    expect(a.ttlSeconds).toBe(5);
    expect(a.id).not.toBe(b.id);
  });

  it.each([0, -1, 1.5, 301, Number.NaN])('refuses a TTL of %s seconds', (ttlSeconds) => {
    expect(() => electionSettings({ ttlSeconds })).toThrow(LeaderElectionOptionsError);
  });

  it('refuses an empty id and oversized endpoints', () => {
    expect(() => electionSettings({ id: '' })).toThrow(/leader id/);
    expect(() => electionSettings({ http: 'h'.repeat(MAX_LEADER_ENDPOINT_LENGTH + 1) })).toThrow(/http endpoint/);
    expect(electionSettings({ http: 'http://a:6412/' }).http).toBe('http://a:6412/');
  });
});

describe('leader records', () => {
  it('reads back what a leader publishes', () => {
    const info = { id: 'a', since: '2026-01-01T00:00:00.000Z', http: 'http://a:6412/', zmq: 'tcp://a:6410', line: 'a:7000' };
    expect(parseLeaderInfo(JSON.stringify(info))).toEqual(info);
    expect(parseLeaderInfo(JSON.stringify({ id: 'b', since: 'x' }))).toEqual({ id: 'b', since: 'x' });
  });

  it.each(['', 'not json', 'null', '[]', '{"id":1,"since":"x"}', '{"id":"a"}', '{"id":"a","since":"x","http":3}'])(
    'does not trust %j',
    (text) => {
      expect(parseLeaderInfo(text)).toBeUndefined();
    },
  );

  it('does not parse an oversized record', () => {
    expect(parseLeaderInfo(JSON.stringify({ id: 'a', since: 'x', http: 'h'.repeat(9 * MAX_LEADER_ENDPOINT_LENGTH) }))).toBeUndefined();
  });
});
