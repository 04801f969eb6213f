/**
 * The settings of every sequence as this server knows them, and the admin
 * operations on them: define (create or change), describe, delete.
 *
 * Settings live in the store, so every server sharing it applies them: they
 * are loaded at start; a shared store is read again every `refreshMs`, and a
 * name first used here is looked up before its first value is issued (another
 * server may have defined it since). A deleted sequence leaves a tombstone
 * that keeps its old settings, and its counters stay where they are: a
 * sequence created again under that name continues above its old values and
 * looks as it did.
 */
import { TicketError } from '../core/errors.js';
import { validateSequenceName } from '../core/names.js';
import type { SlotMap } from '../core/numbering.js';
import type { Store } from '../store/store.js';
import {
  DEFAULT_SETTINGS,
  PERIOD_SEPARATOR,
  SequenceDefinition,
  checkChange,
  decodeSettings,
  encodeSettings,
  mergeSettings,
  parseSettingsChange,
  settingsJson,
  type ChangeContext,
  type SequenceSettings,
} from '../core/sequence-definitions.js';
import type { SequenceState } from './sequence-state.js';
import type { SequenceSnapshot, ServiceLogger } from './service-options.js';
import { callStore } from './store-calls.js';

/** What the settings book needs from the service that owns it. */
export interface SettingsHost {
  liveState(name: string): SequenceState | undefined;
  applyDefinition(seq: SequenceState, definition: SequenceDefinition | undefined): void;
  handBack(name: string): Promise<void>;
  forget(name: string): Promise<void>;
  createSequence(name: string): Promise<boolean>;
  raiseFloor(name: string, floor: bigint, force: boolean): Promise<boolean>;
  checkFloorJump(name: string, floor: bigint, definition: SequenceDefinition | undefined): Promise<void>;
  hasSequence(name: string): boolean;
  describe(name: string): SequenceSnapshot | undefined;
}

/** Settings of a `SequenceSettingsBook`. */
export interface SettingsBookOptions {
  readonly store: Store;
  readonly map: SlotMap;
  /** Largest value of any sequence (2^63 − 1, or 2^53 − 1 with --js-safe). */
  readonly maxValue: bigint;
  readonly storeTimeoutMs: number;
  /** Shared stores: how often every sequence's settings are read again, in ms. */
  readonly refreshMs: number;
  readonly logger: ServiceLogger;
}

/** A sequence as `GET /admin/sequences/{name}` shows it. */
export interface SequenceView {
  readonly name: string;
  readonly settings: Record<string, string | null>;
  /** Live state on this server, if it issued from the sequence since start. */
  readonly state: {
    readonly lastIssued: string | null;
    readonly issued: number;
    readonly period: string | null;
    readonly leaseRemaining: string;
  } | null;
}

/** What `define` did. */
export interface DefineResult {
  readonly created: boolean;
  readonly raised: boolean;
  readonly view: SequenceView;
}

/** Names whose store settings were looked up since start, remembered up to this many (then all forgotten at once). */
const MAX_CHECKED = 100_000;

export class SequenceSettingsBook {
  private readonly host: SettingsHost;
  private readonly options: SettingsBookOptions;
  private readonly definitions = new Map<string, SequenceDefinition>();
  /** Stored settings this server cannot use (say, a time zone its Node does not know): why. */
  private readonly broken = new Map<string, string>();
  /** Deleted sequences and the settings they had. */
  private readonly deleted = new Map<string, SequenceSettings>();
  /** The stored text per name, so a refresh applies only what changed. */
  private readonly texts = new Map<string, string>();
  /** Shared stores: names whose settings were looked up (or loaded) since start. */
  private readonly checked = new Set<string>();
  private readonly lookups = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  constructor(host: SettingsHost, options: SettingsBookOptions) {
    this.host = host;
    this.options = options;
  }

  /** Loads every sequence's settings. The store must be open. */
  async load(): Promise<void> {
    for await (const { name, settings } of this.options.store.listSettings()) this.take(name, settings);
  }

  /** Shared stores: starts reading the settings again every `refreshMs`, so changes made elsewhere apply here. */
  startRefresh(): void {
    if (!this.options.store.shared || this.timer !== undefined) return;
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
  }

  /** Stops the refresh (graceful stop). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The settings of a sequence that has any (for /status), or undefined for a plain one. */
  settingsOf(name: string): Record<string, string | null> | undefined {
    const definition = this.definitions.get(name);
    return definition === undefined ? undefined : settingsJson(definition.settings);
  }

  isDeleted(name: string): boolean {
    return this.deleted.has(name);
  }

  /**
   * The definition of a sequence, or undefined for one without settings.
   * @throws TicketError EUNAVAILABLE when its stored settings cannot be used by this server
   */
  definitionOf(name: string): SequenceDefinition | undefined {
    const why = this.broken.get(name);
    if (why !== undefined) throw new TicketError('EUNAVAILABLE', `the settings of sequence "${name}" cannot be used here: ${why}`);
    return this.definitions.get(name);
  }

  /**
   * True when this server knows the current settings of `name`; on a shared
   * store, a name not looked up yet is read from the store first (the promise
   * settles once known).
   */
  knows(name: string): true | Promise<void> {
    if (!this.options.store.shared || this.checked.has(name)) return true;
    const pending = this.lookups.get(name);
    if (pending !== undefined) return pending;
    const lookup = callStore(() => this.options.store.readSettings(name), this.options.storeTimeoutMs).then(
      (text) => {
        this.lookups.delete(name);
        if (this.checked.size >= MAX_CHECKED) this.checked.clear();
        this.checked.add(name);
        if (text !== undefined) this.take(name, text);
      },
      (error: unknown) => {
        this.lookups.delete(name);
        throw error;
      },
    );
    this.lookups.set(name, lookup);
    return lookup;
  }

  /** A deleted name used again: it comes back with its old settings (its counters never moved back). */
  revive(name: string): void {
    const settings = this.deleted.get(name);
    if (settings === undefined) return;
    this.deleted.delete(name);
    const text = encodeSettings(settings);
    this.take(name, text);
    void callStore(() => this.options.store.writeSettings(name, text), this.options.storeTimeoutMs).catch((error: unknown) => {
      this.options.logger.warn({ err: error, sequence: name }, 'could not clear the tombstone of a sequence used again');
    });
  }

  /**
   * Creates or changes a sequence (`PUT /admin/sequences/{name}`, the config file's `sequences`).
   * Fields left out keep their value; `null` resets one. Applied here at once, and
   * stored, so every server sharing the store applies it too. A refused change
   * (a floor too far included) creates nothing and changes no setting.
   * @throws TicketError EBADREQ (malformed, or a change that could repeat a value), EBADNAME, ELIMIT,
   *   EJUMP (a floor too far without force), EUNAVAILABLE (store)
   */
  async define(name: string, body: unknown): Promise<DefineResult> {
    const change = parseSettingsChange(body);
    validateSequenceName(name);
    const stored = this.options.store.shared ? await this.readStored(name) : undefined;
    if (stored !== undefined) this.take(name, stored);
    const tombstone = this.deleted.get(name);
    const current = tombstone ?? this.definitions.get(name)?.settings ?? DEFAULT_SETTINGS;
    const next = mergeSettings(current, change);
    // Every check that needs no store comes first: a refused change creates nothing.
    const compiled = new SequenceDefinition(name, next, this.options.map, this.options.maxValue);
    if (change.floor !== undefined && !change.force) await this.host.checkFloorJump(name, change.floor, compiled);
    const created = await this.host.createSequence(name);
    const lookChanges = current.format !== next.format || current.check !== next.check || current.period !== next.period;
    const maxLowered = next.max !== undefined && (current.max === undefined || next.max < current.max);
    let context: ChangeContext = { used: false, reservedUpTo: undefined };
    if (lookChanges || maxLowered) {
      // What this server holds but has not issued goes back first, so the store shows what was issued.
      await this.host.handBack(name);
      context = await this.usage(name);
    }
    checkChange(current, next, compiled, context);
    const text = encodeSettings(next);
    if (text !== this.texts.get(name) || tombstone !== undefined) {
      await callStore(() => this.options.store.writeSettings(name, text), this.options.storeTimeoutMs);
    }
    this.deleted.delete(name);
    this.take(name, text);
    const raised = change.floor === undefined ? false : await this.host.raiseFloor(name, change.floor, change.force);
    return { created, raised, view: this.view(name) };
  }

  /**
   * A sequence's settings and this server's live state of it.
   * @throws TicketError ENOSEQ when no such sequence exists
   */
  async describe(name: string): Promise<SequenceView> {
    if (!(await this.exists(name))) throw new TicketError('ENOSEQ', `no sequence "${name}"`);
    if (this.options.store.shared) {
      const stored = await this.readStored(name);
      if (stored !== undefined) this.take(name, stored);
    }
    return this.view(name);
  }

  /**
   * Deletes a sequence: it stops counting toward --max-sequences and, in strict
   * mode, stops existing. A tombstone keeps its settings and its counters stay,
   * so a sequence created again under the name continues above its old values.
   * @throws TicketError ENOSEQ when it does not exist, EUNAVAILABLE (store)
   */
  async remove(name: string): Promise<void> {
    if (!(await this.exists(name))) throw new TicketError('ENOSEQ', `no sequence "${name}"`);
    const settings = this.definitions.get(name)?.settings ?? DEFAULT_SETTINGS;
    await this.host.forget(name);
    await callStore(() => this.options.store.writeSettings(name, tombstoneText(settings)), this.options.storeTimeoutMs);
    // Slots an embedded store kept below the counter would take a name created again below its old values.
    const kept = this.options.store.unissued;
    if (kept !== undefined) await callStore(() => kept.drop(name), this.options.storeTimeoutMs);
    this.definitions.delete(name);
    this.texts.delete(name);
    this.deleted.set(name, settings);
  }

  private async exists(name: string): Promise<boolean> {
    if (this.deleted.has(name)) return false;
    if (this.host.hasSequence(name)) return true;
    return this.options.store.shared && (await callStore(() => this.options.store.has(name), this.options.storeTimeoutMs));
  }

  private view(name: string): SequenceView {
    const settings = this.definitions.get(name)?.settings ?? DEFAULT_SETTINGS;
    const live = this.host.describe(name);
    return {
      name,
      settings: settingsJson(settings),
      state:
        live === undefined
          ? null
          : {
              lastIssued: live.lastIssued === undefined ? null : live.lastIssued.toString(),
              issued: live.issued,
              period: live.period ?? null,
              leaseRemaining: live.leaseRemaining.toString(),
            },
    };
  }

  private readStored(name: string): Promise<string | undefined> {
    return callStore(() => this.options.store.readSettings(name), this.options.storeTimeoutMs);
  }

  /**
   * Whether a sequence has issued (reserved) values in any period, and the
   * highest value reserved: one pass over the store's counters (an admin
   * operation, not a request path).
   */
  private async usage(name: string): Promise<ChangeContext> {
    const counterPrefix = `${name}${PERIOD_SEPARATOR}`;
    let used = false;
    let reservedUpTo: bigint | undefined;
    for await (const { name: stored, next } of this.options.store.list()) {
      if (stored !== name && !stored.startsWith(counterPrefix)) continue;
      const highest = this.options.map.floorBelow(next);
      if (highest > 0n) {
        used = true;
        if (reservedUpTo === undefined || highest > reservedUpTo) reservedUpTo = highest;
      }
    }
    return { used, reservedUpTo };
  }

  /** Takes a stored settings text (or tombstone) into memory and applies it to the live sequence. */
  private take(name: string, text: string): void {
    if (this.texts.get(name) === text && !this.broken.has(name)) return;
    this.texts.set(name, text);
    this.checked.add(name);
    let definition: SequenceDefinition | undefined;
    try {
      const stored = decodeSettings(text);
      if (stored.deleted) {
        this.definitions.delete(name);
        this.deleted.set(name, stored.settings);
        if (this.host.liveState(name) !== undefined) void this.host.forget(name);
        return;
      }
      this.deleted.delete(name);
      definition = new SequenceDefinition(name, stored.settings, this.options.map, this.options.maxValue);
      this.broken.delete(name);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.broken.set(name, why);
      this.options.logger.error({ sequence: name, err: error }, 'stored sequence settings cannot be used; the sequence answers EUNAVAILABLE');
      return;
    }
    this.definitions.set(name, definition);
    const live = this.host.liveState(name);
    if (live !== undefined) this.host.applyDefinition(live, definition);
  }

  /** Shared stores: reads every sequence's settings and applies what changed (one refresh at a time). */
  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const seen = new Set<string>();
      for await (const { name, settings } of this.options.store.listSettings()) {
        seen.add(name);
        this.take(name, settings);
      }
      // Settings removed from the store: the sequence is plain again.
      for (const name of [...this.texts.keys()]) {
        if (seen.has(name)) continue;
        this.texts.delete(name);
        this.definitions.delete(name);
        this.deleted.delete(name);
        const live = this.host.liveState(name);
        if (live !== undefined) this.host.applyDefinition(live, undefined);
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not read sequence settings from the store; retrying');
    } finally {
      this.refreshing = false;
    }
  }
}

/** A tombstone's store text: deleted, with the settings it had. */
function tombstoneText(settings: SequenceSettings): string {
  return JSON.stringify({ deleted: true, ...settingsJson(settings) });
}
