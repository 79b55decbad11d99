/**
 * The one masking function. The runner masks secrets in the log only; every text this action
 * sends anywhere else (PR comment, approval issue, deployment, job summary, outputs, the
 * server's history and lock files) goes through `mask` first.
 */
import * as core from '@actions/core'

/** The shortest line of a multi-line secret (a private key) that is masked on its own. */
const MIN_LINE_LENGTH = 8

const secrets = new Set<string>()
/** Longest first, so a line of a key never leaves the rest of a longer value showing. */
let ordered: string[] = []

function add(value: string): void {
  if (value === '' || secrets.has(value)) return
  secrets.add(value)
  core.setSecret(value)
}

/**
 * Registers credentials: each whole value, each line of a multi-line value (so a private key
 * printed with other line endings, indented or cut is still caught line by line) and the form
 * each takes inside a JSON string. Empty and undefined values are ignored.
 */
export function registerSecrets(values: readonly (string | undefined)[]): void {
  for (const value of values) {
    if (value === undefined || value.trim() === '') continue
    const forms = [value, value.trim()]
    for (const line of value.split(/\r\n|\r|\n/)) {
      if (line.trim().length >= MIN_LINE_LENGTH) forms.push(line.trim())
    }
    for (const form of forms) {
      add(form)
      const json = JSON.stringify(form).slice(1, -1)
      if (json !== form) add(json)
    }
  }
  ordered = [...secrets].sort((a, b) => b.length - a.length)
}

/** `text` with every registered secret value replaced by `***`. */
export function mask(text: string): string {
  let out = text
  for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join('***')
  return out
}

/** `value` with every string in it (in arrays and plain objects, at any depth) masked. */
export function maskDeep<T>(value: T): T {
  if (typeof value === 'string') return mask(value) as T
  if (Array.isArray(value)) return value.map(item => maskDeep<unknown>(item)) as T
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, maskDeep<unknown>(item)])
    ) as T
  }
  return value
}

/** Forgets every registered secret (tests only; a run registers once). */
export function clearSecrets(): void {
  secrets.clear()
  ordered = []
}
