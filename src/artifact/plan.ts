/** Pure decisions about a release: its id, what travels and what is reused from the base release. */
import type { Entry, Scan, ScannedEntry } from './manifest.js'

/**
 * A release's id: `<run id>-<attempt>-<sha12>` in a GitHub Actions run (`GITHUB_RUN_ID` and
 * `GITHUB_RUN_ATTEMPT`): unique per run attempt and the same in every job of it, so shards of one
 * run that stage the same commit on different hosts can be promoted together by id. Elsewhere
 * `<UTC yyyymmddHHMMSS>-<sha12>`. The server orders releases by when they were stored, not by id.
 */
export function releaseId(
  sha: string,
  now: Date,
  run?: { readonly id: string; readonly attempt: number }
): string {
  const short = (sha.toLowerCase().match(/^[0-9a-f]+/)?.[0] ?? '').slice(0, 12) || 'nosha0000000'
  if (run && /^\d{1,20}$/.test(run.id)) return `${run.id}-${Math.max(1, run.attempt)}-${short}`
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  return `${stamp}-${short}`
}

/** Either form of `releaseId`. */
export const RELEASE_ID = /^(?:\d{14}|\d{1,20}-\d{1,4})-[0-9a-f]{7,40}$/

/** The manifest kept on the server for each release, next to it in .gated-deploy/releases/. */
export interface RemoteManifest {
  readonly version: 1
  readonly release: string
  readonly sha: string
  readonly created: string
  readonly by: string
  readonly run: string
  readonly entries: readonly Entry[]
}

export interface TransferPlan {
  /** Entries that travel in the tar stream (all dirs and symlinks, new and changed files). */
  readonly send: readonly ScannedEntry[]
  /** Files hard-linked from the base release instead of sent. */
  readonly reuse: readonly string[]
  readonly filesSent: number
  readonly bytesSent: number
  readonly filesReused: number
  readonly bytesReused: number
}

/** A path from a server-side manifest is trusted only when it stays inside the release. */
export function safeRelativePath(p: string): boolean {
  return (
    p !== '' &&
    !p.startsWith('/') &&
    !p.includes('\0') &&
    !p.split('/').includes('..') &&
    !p.split('/').includes('.')
  )
}

function baseFiles(base: RemoteManifest | undefined): Map<string, Entry> {
  const previous = new Map<string, Entry>()
  for (const entry of base?.entries ?? [])
    if (safeRelativePath(entry.path)) previous.set(entry.path, entry)
  return previous
}

/**
 * The files the base release may already hold (same path, size and mode): only their hashes
 * decide the plan. Every other file travels, so it is hashed while it does.
 */
export function reuseCandidates(local: Scan, base: RemoteManifest | undefined): string[] {
  const previous = baseFiles(base)
  return local.entries.flatMap(entry => {
    const old = previous.get(entry.path)
    return entry.type === 'file' &&
      old?.type === 'file' &&
      old.size === entry.size &&
      old.mode === entry.mode
      ? [entry.path]
      : []
  })
}

/** The sha256 of every file of `local` that has one (all of them, in a Manifest). */
export function hashesOf(local: Scan): Map<string, string> {
  const hashes = new Map<string, string>()
  for (const e of local.entries) {
    const sha256 = e.type === 'file' && 'sha256' in e ? e.sha256 : undefined
    if (typeof sha256 === 'string') hashes.set(e.path, sha256)
  }
  return hashes
}

/** `hashes` must hold at least the reuseCandidates' hashes. */
export function planTransfer(
  local: Scan,
  base: RemoteManifest | undefined,
  hashes: ReadonlyMap<string, string> = hashesOf(local)
): TransferPlan {
  const previous = baseFiles(base)
  const reused = new Set<string>()
  const send: ScannedEntry[] = []
  let bytesSent = 0
  let bytesReused = 0
  for (const entry of local.entries) {
    const old = previous.get(entry.path)
    if (
      entry.type === 'file' &&
      old?.type === 'file' &&
      old.size === entry.size &&
      old.mode === entry.mode
    ) {
      const sha256 = hashes.get(entry.path)
      if (sha256 === undefined)
        throw new Error(`internal: ${entry.path} planned before it was hashed`)
      if (old.sha256 === sha256) {
        reused.add(entry.path)
        bytesReused += entry.size
        continue
      }
    }
    send.push(entry)
    if (entry.type === 'file') bytesSent += entry.size
  }
  return {
    send,
    reuse: [...reused],
    filesSent: send.filter(e => e.type === 'file').length,
    bytesSent,
    filesReused: reused.size,
    bytesReused
  }
}

/** The symlink target that points `releases/<id>/<sharedPath>` at `shared/<sharedPath>`. */
export function sharedLinkTarget(sharedPath: string): string {
  const depth = sharedPath.split('/').length - 1
  return '../'.repeat(depth + 2) + 'shared/' + sharedPath
}
