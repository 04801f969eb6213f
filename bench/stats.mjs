// Small statistics and formatting helpers shared by the benchmark modules.

/** Median of a list of numbers (mean of the two middle ones for an even count). */
export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Largest of a list of numbers. */
export function best(values) {
  return values.length === 0 ? NaN : Math.max(...values);
}

/**
 * Nearest-rank percentile of the first `count` entries of a Float64Array,
 * which must already be sorted ascending. `p` in (0, 1].
 */
export function percentileSorted(sorted, count, p) {
  if (count === 0) return NaN;
  const rank = Math.min(count, Math.max(1, Math.ceil(p * count)));
  return sorted[rank - 1];
}

/** Rounds to `digits` significant digits, keeping the JSON readable. */
export function round(value, digits = 4) {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** 12345678 → "12.35 M/s". */
export function formatRate(perSecond) {
  if (!Number.isFinite(perSecond)) return 'n/a';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

/** Milliseconds → "123 µs" or "1.23 ms". */
export function formatLatency(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  return `${ms.toFixed(2)} ms`;
}

/** Ratio as "0.987". */
export function formatRatio(ratio) {
  return Number.isFinite(ratio) ? ratio.toFixed(3) : 'n/a';
}

/** Renders rows (arrays of strings) under headers as an aligned text table. */
export function renderTable(headers, rows) {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => String(row[column] ?? '').length)),
  );
  const line = (cells) =>
    cells
      .map((cell, column) => {
        const text = String(cell ?? '');
        // Left-align the first column, right-align numbers.
        return column === 0 ? text.padEnd(widths[column]) : text.padStart(widths[column]);
      })
      .join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** A numeric knob from the environment, bounded; `fallback` when unset. */
export function envNumber(name, fallback, min, max) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/**
 * Latency summary (µs) over every request of several runs, each with its own
 * `sortedLatenciesMs`.
 */
export function pooledLatencyUs(runs) {
  const total = runs.reduce((sum, run) => sum + run.sortedLatenciesMs.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const run of runs) {
    all.set(run.sortedLatenciesMs, offset);
    offset += run.sortedLatenciesMs.length;
  }
  all.sort();
  const p = (q) => round(percentileSorted(all, total, q) * 1000);
  return { p50: p(0.5), p90: p(0.9), p99: p(0.99), p999: p(0.999), max: p(1), samples: total };
}
