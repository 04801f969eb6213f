/**
 * Progress of a long one-shot command (dump, restore, takeover of thousands of
 * sequences) on stderr, for a person watching a terminal. When stderr is not a
 * terminal it writes nothing, so scripts, pipes and logs see no change.
 */

/** Where progress goes: a terminal (`isTTY`) or anything else (then silent). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Options of a progress reporter. */
export interface ProgressOptions {
  /** Report at least every this many items; default 1000. */
  readonly everyItems?: number;
  /** Report at least every this many ms; default 1000. */
  readonly everyMs?: number;
  /** The clock; default `Date.now`. */
  readonly now?: () => number;
}

/** Counts items and rewrites one stderr line (`dump: 12000 sequences`) now and then. */
export class ProgressReporter {
  private count = 0;
  private reportedCount = 0;
  private reportedAt: number;
  private readonly enabled: boolean;
  private readonly everyItems: number;
  private readonly everyMs: number;
  private readonly now: () => number;

  /**
   * @param label what is counted, e.g. `restore: sequences raised`
   * @param total the number of items when known in advance (shown as `N/TOTAL`)
   * @param stream where to write; default `process.stderr`, and only if it is a terminal
   */
  constructor(
    private readonly label: string,
    private readonly total: number | undefined = undefined,
    private readonly stream: ProgressStream = process.stderr,
    options: ProgressOptions = {},
  ) {
    this.enabled = stream.isTTY === true;
    this.everyItems = options.everyItems ?? 1000;
    this.everyMs = options.everyMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.reportedAt = this.now();
  }

  /** Counts `items` more, and reports when enough items or time have passed since the last report. */
  tick(items = 1): void {
    this.count += items;
    if (!this.enabled) return;
    const now = this.now();
    if (this.count - this.reportedCount >= this.everyItems || now - this.reportedAt >= this.everyMs) {
      this.reportedCount = this.count;
      this.reportedAt = now;
      this.stream.write(`\r${this.text()}`);
    }
  }

  /** Ends the line, if anything was reported, with the final count. */
  done(): void {
    if (!this.enabled || this.reportedCount === 0) return;
    this.stream.write(`\r${this.text()}\n`);
  }

  private text(): string {
    return `${this.label}: ${this.count}${this.total === undefined ? '' : `/${this.total}`}`;
  }
}
