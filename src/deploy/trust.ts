/**
 * The trust boundary with the server: JSON read back from it (a release's manifest, the lock's
 * owner) is checked field by field here, never cast. A manifest that does not check out costs
 * incrementality (everything is sent), never the deploy.
 */
import type { Entry } from '../artifact/manifest.js'
import { RELEASE_ID, type RemoteManifest } from '../artifact/plan.js'

/** Who holds a deploy lock, as its owner.json says. */
export interface LockOwner {
  readonly runId: string
  readonly attempt: number
  readonly runUrl: string
  readonly actor: string
  readonly sha: string
  readonly release: string
  readonly started: string
}

type Json = Record<string, unknown>

function parseObject(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Json)
      : undefined
  } catch {
    return undefined
  }
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)
const whole = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined

function entry(value: unknown): Entry | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const e = value as Json
  const path = text(e.path)
  if (path === undefined) return undefined
  if (e.type === 'dir') {
    const mode = whole(e.mode)
    return mode === undefined ? undefined : { type: 'dir', path, mode }
  }
  if (e.type === 'symlink') {
    const target = text(e.target)
    return target === undefined ? undefined : { type: 'symlink', path, target }
  }
  if (e.type === 'file') {
    const mode = whole(e.mode)
    const size = whole(e.size)
    const sha256 = text(e.sha256)
    if (mode === undefined || size === undefined || !sha256 || !/^[0-9a-f]{64}$/.test(sha256))
      return undefined
    return { type: 'file', path, mode, size, sha256 }
  }
  return undefined
}

/**
 * A release manifest as gated-deploy writes it, for release `expected`; undefined (with the
 * reason) when it is anything else: corrupt, foreign, another version, another release.
 */
export function parseRemoteManifest(
  json: string,
  expected: string
): { manifest: RemoteManifest } | { problem: string } {
  const m = parseObject(json)
  if (!m) return { problem: 'it is not a JSON object' }
  if (m.version !== 1) return { problem: `its version is ${JSON.stringify(m.version)}, not 1` }
  if (m.release !== expected) return { problem: `it names release ${String(m.release)}` }
  if (!Array.isArray(m.entries)) return { problem: 'it has no list of entries' }
  const entries: Entry[] = []
  for (const raw of m.entries as unknown[]) {
    const parsed = entry(raw)
    if (!parsed) return { problem: `entry ${JSON.stringify(raw)?.slice(0, 120)} is not valid` }
    entries.push(parsed)
  }
  return {
    manifest: {
      version: 1,
      release: expected,
      sha: text(m.sha) ?? '',
      created: text(m.created) ?? '',
      by: text(m.by) ?? '',
      run: text(m.run) ?? '',
      entries
    }
  }
}

/** What can be read of a held lock's owner.json: every field is optional, nothing is trusted. */
export function parseLockOwner(json: string): Partial<LockOwner> {
  const o = parseObject(json) ?? {}
  const attempt = whole(o.attempt)
  const fields = {
    runId: text(o.runId),
    attempt,
    runUrl: text(o.runUrl),
    actor: text(o.actor),
    sha: text(o.sha),
    release: text(o.release),
    started: text(o.started)
  }
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))
}

/** A release id, or undefined for anything else. */
export function releaseOrUndefined(value: string | undefined): string | undefined {
  const id = value?.trim()
  return id && RELEASE_ID.test(id) ? id : undefined
}
