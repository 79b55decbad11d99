/** How numbers and text are written for people: one implementation each, used by the log and the report. */

/** "1 file", "2 files". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const

/**
 * "512 B", "1.5 KiB", "60.3 MiB". The unit is chosen after rounding, so 1,048,575 bytes is
 * "1.0 MiB", never "1024.0 KiB".
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  let unit = 1
  let value = bytes / 1024
  while (unit < BYTE_UNITS.length - 1 && Number(value.toFixed(1)) >= 1024) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${BYTE_UNITS[unit] ?? ''}`
}

/**
 * "250 ms", "12.3 s", "2 min 5 s", "1 h 3 min". Rounded first, then split, so 119,700 ms is
 * "2 min 0 s" (never "1 min 60 s") and 59,990 ms is "1 min 0 s" (never "60.0 s").
 */
export function formatDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms))
  if (whole < 1000) return `${whole} ms`
  const tenths = Math.round(whole / 100)
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`
  const seconds = Math.round(whole / 1000)
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  const minutes = Math.round(whole / 60_000)
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/**
 * Shortens to at most `max` UTF-16 units (never more code points either), ending with `…` when
 * cut, without splitting a surrogate pair.
 */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text
  let out = ''
  for (const char of text) {
    if (out.length + char.length > max - 1) break
    out += char
  }
  return `${out}…`
}
