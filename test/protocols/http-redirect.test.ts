/**
 * Leader mode on the public HTTP API: while `redirectTo` names a leader, every
 * ticket route answers `307` to the leader's URL with the path and query
 * kept; other routes (and every route while this server leads or no leader
 * is known) are answered here. In-process, through fastify's `inject`.
 */
import { describe, expect, it } from 'vitest';
import type { TicketSource } from '../../src/core/ticket-source.js';
import { createHttpApi } from '../../src/protocols/http.js';

/** A source that counts from 1, so a request answered here is visible. */
function countingSource(): TicketSource & { calls: number } {
  let next = 0n;
  const source = {
    calls: 0,
    nextValue(): bigint {
      source.calls++;
      return ++next;
    },
    next(_name: string, count: number): bigint[] {
      source.calls++;
      return Array.from({ length: count }, () => ++next);
    },
    lastValue: (): bigint | undefined => (next === 0n ? undefined : next),
  };
  return source;
}

describe('HTTP API in leader mode', () => {
  const routes: Array<{ method: 'GET' | 'POST'; url: string }> = [
    { method: 'POST', url: '/' },
    { method: 'GET', url: '/tickets/create' },
    { method: 'GET', url: '/tickets/create/5' },
    { method: 'GET', url: '/status' },
    { method: 'POST', url: '/v1/sequences/in%20voices/next?count=3&last=9' },
  ];

  it('a follower redirects every ticket route to the leader with 307, path and query kept, issuing nothing', async () => {
    const source = countingSource();
    const app = createHttpApi(source, { redirectTo: () => 'http://leader.example:6412' });
    for (const route of routes) {
      const reply = await app.inject({ method: route.method, url: route.url, payload: route.method === 'POST' ? '{"count":1}' : undefined });
      expect(reply.statusCode, route.url).toBe(307);
      expect(reply.headers.location).toBe(`http://leader.example:6412${route.url}`);
    }
    expect(source.calls).toBe(0);
    await app.close();
  });

  it('answers here while this server leads or no leader is known, and never redirects unknown routes or the API document', async () => {
    const source = countingSource();
    let leader: string | undefined;
    const app = createHttpApi(source, { redirectTo: () => leader });
    expect((await app.inject({ method: 'POST', url: '/' })).body).toBe('1');
    leader = 'http://leader.example:6412';
    expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    const unknown = await app.inject({ method: 'GET', url: '/nothing/here' });
    expect(unknown.statusCode).toBe(404);
    leader = undefined;
    expect((await app.inject({ method: 'GET', url: '/tickets/create/2' })).body).toBe('[2,3]');
    await app.close();
  });
});
