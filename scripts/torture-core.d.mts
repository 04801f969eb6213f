// Types of torture-core.mjs, for the TypeScript test that runs it (test/integration/torture.test.ts).

export type TortureProtocol = 'line' | 'zmq' | 'http';

/** Options of `runTorture`; every field has a default (`TORTURE_DEFAULTS`). */
export interface TortureOptions {
  /** Stops to make (kills + graceful). Default 1000. */
  cycles?: number;
  /** Wall-clock cap in seconds; the run ends after the cycle in progress. Default 900. */
  seconds?: number;
  /** Every Nth stop is a SIGTERM (0: never). Default 10. */
  gracefulEvery?: number;
  /** The servers' --max-block. Default 50. */
  maxBlock?: number;
  protocols?: readonly TortureProtocol[];
  /** Sequences loaded at once. Default 3. */
  sequences?: number;
  /** Closed-loop callers per protocol × sequence × server. Default 2. */
  workers?: number;
  /** Largest count of one request (≤ maxBlock). Default 10. */
  maxCount?: number;
  /** Servers at once. Default 1. */
  servers?: number;
  /** Each server's `--workers` (an owner and that many worker processes). Default 1. Above 1 only repeats are checked. */
  serverWorkers?: number;
  /** The servers are instances 1…K of K, each with its own data directory. */
  partitioned?: boolean;
  /** A shared-store URI every server uses instead of the embedded store. */
  store?: string;
  minRunMs?: number;
  maxRunMs?: number;
  seed?: number;
  requestTimeoutMs?: number;
  cliPath?: string;
  onProgress?: (text: string) => void;
  signal?: AbortSignal;
}

/** What `runTorture` found. Big numbers are decimal strings. */
export interface TortureReport {
  /** No repeat, no graceful loss, no gap beyond its bound, no server failure. */
  ok: boolean;
  failure: string | undefined;
  seed: number;
  mode: string;
  servers: number;
  protocols: TortureProtocol[];
  sequences: number;
  maxBlock: number;
  cycles: number;
  kills: number;
  gracefulRestarts: number;
  requests: number;
  requestErrors: number;
  errorSamples: string[];
  /** Warning and error log lines of the servers, at most 20. */
  serverWarnings: string[];
  seconds: number;
  valuesPerSecond: number;
  values: number;
  repeats: number;
  repeatSamples: string[];
  largestGap: string;
  /** 2 × max-block × step. */
  gapBound: string;
  /** False when several servers share one value class (then gaps and losses cannot be attributed). */
  gapChecked: boolean;
  /** Gaps larger than 2 × max-block per kill plus the values of requests the kill left unanswered. */
  gapViolationCount: number;
  gapViolations: string[];
  gracefulLost: number;
  lossSamples: string[];
  perSequence: Array<{ sequence: string; values: number; largestGap: string }>;
}

/** A finished run of one server: how it ended, and per sequence what it answered. */
export interface TortureRun {
  end: 'kill' | 'term';
  unanswered: number[];
  min: Array<bigint | undefined>;
  max: Array<bigint | undefined>;
}

export declare const PROJECT_ROOT: string;
export declare const CLI_PATH: string;
export declare const TORTURE_PROTOCOLS: readonly TortureProtocol[];
export declare const TORTURE_DEFAULTS: Readonly<Required<Omit<TortureOptions, 'store' | 'seed' | 'cliPath' | 'onProgress' | 'signal'>>>;

export declare function killAllTortureChildren(): void;
export declare function resolveTortureOptions(options?: TortureOptions): Required<Omit<TortureOptions, 'store' | 'onProgress' | 'signal'>> & TortureOptions;
export declare function runTorture(options?: TortureOptions): Promise<TortureReport>;

/** Every value received for one (sequence, value class). */
export declare class ValueLog {
  readonly length: number;
  push(value: bigint): void;
  sorted(): BigInt64Array;
}

/** The checks of a report, over recorded values (exported so they can be tested on made-up data). */
export declare function analyse(input: {
  logs: ValueLog[][];
  sequences: string[];
  runsByServer: TortureRun[][];
  step: number;
  maxBlock: number;
  runsOrdered: boolean;
}): Pick<TortureReport, 'values' | 'repeats' | 'repeatSamples' | 'largestGap' | 'gapBound' | 'gapChecked' | 'gapViolationCount' | 'gapViolations' | 'gracefulLost' | 'lossSamples' | 'perSequence'>;
