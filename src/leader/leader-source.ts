/**
 * Leader mode's `TicketSource`: while this server leads, requests go to its
 * own `TicketService` (which issues only while the election says it may);
 * while another server leads, they are forwarded to that leader's ZeroMQ
 * endpoint through the proxy's upstream machinery, `last` included (a
 * follower answers for its leader); while no leader is known they fail with
 * EUNAVAILABLE, so clients try another server or retry.
 */
import { TicketError } from '../core/errors.js';
import type { Ticket } from '../core/ticket.js';
import type { TicketCheck, TicketSource } from '../core/ticket-source.js';
import { ProxySource } from '../proxy/proxy-source.js';
import type { TicketService } from '../service/ticket-service.js';
import type { LeaderElection } from './election.js';
import type { TransportSecurity } from '../client/transport.js';

/** Settings of a leader source. */
export interface LeaderSourceOptions {
  /** Time the leader gets to answer a forwarded request, in ms. */
  readonly timeout: number;
  /** Token and Curve keys forwarded requests carry to the leader (`--upstream-token`, `--curve-server-key`). */
  readonly upstream?: TransportSecurity | undefined;
}

/** Routes requests to this server's service or to the current leader. */
export class LeaderSource implements TicketSource {
  private forwarder: { readonly endpoint: string; readonly proxy: ProxySource } | undefined;

  constructor(
    private readonly service: TicketService,
    /** The election, once it runs (it starts after the protocols are bound). */
    private readonly election: () => LeaderElection | undefined,
    private readonly options: LeaderSourceOptions,
  ) {}

  private leading(): boolean {
    return this.election()?.role === 'leader';
  }

  /** Where a request goes now. @throws TicketError EUNAVAILABLE when no leader is known. */
  private target(): TicketSource {
    const election = this.election();
    if (election?.role === 'leader') return this.service;
    const endpoint = election?.leader?.zmq;
    if (endpoint === undefined) throw new TicketError('EUNAVAILABLE', 'no leader is known yet; retry');
    if (this.forwarder?.endpoint !== endpoint) {
      this.forwarder?.proxy.close();
      // One upstream: the pool's failover has nowhere to go, so a request gets the whole timeout.
      this.forwarder = { endpoint, proxy: new ProxySource([endpoint], { ...this.options.upstream, timeout: this.options.timeout, forwardLast: true }) };
    }
    return this.forwarder.proxy;
  }

  nextValue(name: string, last?: Ticket): Ticket | Promise<Ticket> {
    return this.target().nextValue(name, last);
  }

  next(name: string, count: number, last?: Ticket): Ticket[] | Promise<Ticket[]> {
    return this.target().next(name, count, last);
  }

  /** The settings are the same on every server sharing the store: checked here, leader or not. */
  checkTicket(name: string, text: string): Promise<TicketCheck> {
    return this.service.checkTicket(name, text);
  }

  lastValue(name: string): Ticket | undefined {
    return this.leading() ? this.service.lastValue(name) : this.forwarder?.proxy.lastValue(name);
  }

  /**
   * The leader's ZeroMQ endpoint this server forwards to, and whether it
   * answered lately (true until a forwarded request failed); undefined when
   * this server leads or no leader is known.
   */
  upstream(): { endpoint: string; up: boolean } | undefined {
    const election = this.election();
    const endpoint = election?.leader?.zmq;
    if (election?.role === 'leader' || endpoint === undefined) return undefined;
    if (this.forwarder?.endpoint !== endpoint) return { endpoint, up: true };
    return { endpoint, up: this.forwarder.proxy.stats()[0]?.up ?? false };
  }

  close(): void {
    this.forwarder?.proxy.close();
    this.forwarder = undefined;
  }
}
