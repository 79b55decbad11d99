/**
 * What the stage programs print after building a release (listing.sh): every entry, a marker,
 * then every file's sha256; and how that is checked against the local manifest.
 */
import type { Entry, Manifest, ScannedEntry } from '../../artifact/manifest.js'
import { archiveOrder } from '../../artifact/transfer.js'
import { MARK } from '../program.js'

/**
 * Files over this many 512-byte blocks (2 MiB) are hashed on the server while the upload is
 * unpacked (hash_early in listing.sh), each as soon as tar begins the next member: one hashing
 * process a file costs less than 2 MiB take to travel. The rest are hashed after the stream.
 */
export const EARLY_BLOCKS = 4096

/**
 * hash_early's list: "<n> <path>" lines for the big files of the release, each complete once n
 * members of the tar stream have begun (0 for a file hard-linked from the base before the
 * stream starts), or none when no big file travels. `send` is the plan's, one member an entry,
 * counted in the order the archive holds them (archiveOrder: the big files last). Names with a
 * newline or backslash are left to the hashing after the stream, which handles them.
 */
export function earlyHashList(
  send: readonly ScannedEntry[],
  reused: readonly { readonly path: string; readonly size: number }[]
): string {
  const big = (f: { path: string; size: number }): boolean =>
    Math.ceil(f.size / 512) > EARLY_BLOCKS && !/[\n\\]/.test(f.path)
  const sent: string[] = []
  archiveOrder(send).forEach((entry, i) => {
    // Member i (from 0) is complete once member i + 1 has begun: i + 2 members.
    if (entry.type === 'file' && big(entry)) sent.push(`${i + 2} ${entry.path}\n`)
  })
  // Without a big file in the stream there is nothing to overlap: all is hashed after it, as
  // one batch (the extra processes would cost an incremental deploy more than they save).
  if (sent.length === 0) return ''
  return [...reused.filter(big).map(f => `0 ${f.path}\n`), ...sent].join('')
}

export interface Listing {
  readonly entries: Map<string, { type: 'f' | 'd' | 'l'; mode: string; target?: string }>
  readonly hashes: Map<string, string>
}

/**
 * Reads the hash section: "<hex>  ./<path>" NUL records and "<hex> *./<path>" newline lines in
 * any order. Stops at anything else, so a garbled section shows up as files without hashes.
 */
function parseHashes(text: string): Map<string, string> {
  const hashes = new Map<string, string>()
  for (let at = 0; at < text.length;) {
    const hex = text.slice(at, at + 64)
    const kind = text.slice(at + 64, at + 66)
    const end = text.indexOf(kind === ' *' ? '\n' : '\0', at + 66)
    if (!/^[0-9a-f]{64}$/.test(hex) || (kind !== ' *' && kind !== '  ') || end < 0) break
    const name = text.slice(at + 66, end)
    hashes.set(name.startsWith('./') ? name.slice(2) : name, hex)
    at = end + 1
  }
  return hashes
}

/**
 * Parses the NUL-separated listing, the marker, then the hashes. What the lock exec printed
 * before its GD-READY line (the inspection) is skipped.
 */
export function parseListing(out: Buffer): Listing {
  const ready = Buffer.from(`\n${MARK.GD_READY}\n`)
  const start = out.indexOf(ready)
  const text = out.subarray(start < 0 ? 0 : start + ready.length).toString('utf8')
  const entries: Listing['entries'] = new Map()
  let at = 0
  const field = (): string => {
    const end = text.indexOf('\0', at)
    const value = text.slice(at, end < 0 ? text.length : end)
    at = end < 0 ? text.length : end + 1
    return value
  }
  while (at < text.length) {
    const record = field()
    if (record === MARK.GD_HASHES) break
    // `?`: a mode the artifact does not have (servers without GNU find list by expected mode).
    const match = /^([fdl]) (\d+|\?) (?:\.\/)?([\s\S]*)$/.exec(record)
    if (!match) continue
    const [, type, mode = '', p = ''] = match
    if (type === 'l') entries.set(p, { type, mode, target: field() })
    else entries.set(p, { type: type === 'f' ? 'f' : 'd', mode })
  }
  return { entries, hashes: parseHashes(text.slice(at)) }
}

/** Differences between what the server holds and the manifest; empty when they agree. */
export function compareListing(
  local: Manifest,
  listing: Listing,
  sharedPaths: readonly string[]
): string[] {
  const problems: string[] = []
  const expected = new Set<string>()
  for (const entry of local.entries) {
    expected.add(entry.path)
    const found = listing.entries.get(entry.path)
    if (entry.type === 'file') {
      const hash = listing.hashes.get(entry.path)
      if (!found || found.type !== 'f') problems.push(`${entry.path}: missing`)
      else if (hash !== entry.sha256)
        problems.push(`${entry.path}: sha256 ${hash ?? 'none'} instead of ${entry.sha256}`)
      else if (Number.parseInt(found.mode, 8) !== entry.mode) {
        problems.push(`${entry.path}: mode ${found.mode} instead of ${entry.mode.toString(8)}`)
      }
    } else if (entry.type === 'symlink') {
      if (found?.type !== 'l' || found.target !== entry.target)
        problems.push(`${entry.path}: not a symlink to ${entry.target}`)
    } else if (found?.type !== 'd') problems.push(`${entry.path}: directory missing`)
  }
  for (const shared of sharedPaths) {
    expected.add(shared)
    const parts = shared.split('/')
    for (let n = 1; n < parts.length; n++) expected.add(parts.slice(0, n).join('/'))
  }
  for (const p of listing.entries.keys())
    if (!expected.has(p)) problems.push(`${p}: not in the artifact`)
  return problems
}

/**
 * Files planned as reused whose hard-linked copy is not what the manifest says: the base release
 * was changed on the server after it was verified (a hook edited it, say). They must be sent.
 */
export function staleReused(
  local: Manifest,
  listing: Listing,
  reuse: readonly string[]
): Extract<Entry, { type: 'file' }>[] {
  const reused = new Set(reuse)
  return local.entries.flatMap(entry => {
    if (entry.type !== 'file' || !reused.has(entry.path)) return []
    const found = listing.entries.get(entry.path)
    const ok =
      found?.type === 'f' &&
      Number.parseInt(found.mode, 8) === entry.mode &&
      listing.hashes.get(entry.path) === entry.sha256
    return ok ? [] : [entry]
  })
}
