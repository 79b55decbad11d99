/** Medians, ratios and a plain-text table. */

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}

export function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—'
}

export function ratio(value: number, base: number): string {
  return Number.isFinite(value) && base > 0 ? `${(value / base).toFixed(2)}×` : '—'
}

export function megabytes(bytes: number): string {
  return bytes >= 1 << 20
    ? `${(bytes / (1 << 20)).toFixed(1)} MB`
    : `${(bytes / 1024).toFixed(0)} KB`
}

/** `min–max` of the samples, to show the spread next to the median. */
export function spread(values: readonly number[]): string {
  if (values.length < 2) return ''
  return `${(Math.min(...values) / 1000).toFixed(2)}–${(Math.max(...values) / 1000).toFixed(2)}`
}

export function verdict(ok: boolean): string {
  return ok ? 'OK' : 'MISSED'
}

/** Left-aligned first column, right-aligned others, columns separated by two spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map(r => (r[c] ?? '').length)))
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => (c <= 1 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd()
  const rule = widths.map(w => '─'.repeat(w)).join('  ')
  return [line(header), rule, ...rows.map(line)].join('\n')
}

/** Median over runs of a[i] / b[i]: each ratio from two samples taken in the same run. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.flatMap((x, i) => (b[i] === undefined ? [] : [x / b[i]])))
}

/** Samples (ms) by key, one per run each, in run order, so same-run ratios pair up. */
export class Series {
  private readonly samples = new Map<string, number[]>()

  add(key: string, value: number): void {
    this.samples.set(key, [...(this.samples.get(key) ?? []), value])
  }

  get(key: string): readonly number[] {
    return this.samples.get(key) ?? []
  }

  median(key: string): number {
    return median(this.get(key))
  }
}
