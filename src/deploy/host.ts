/** What happens on one host, one exec at a time: lock, stage and verify, commit and activate, release. */
import { PassThrough } from 'node:stream'
import { DeployError } from '../errors.js'
import { formatBytes } from '../format.js'
import type { ExecResult, SshSession } from '../ssh/session.js'
import { describeTarget } from '../ssh/target.js'
import type { Entry, Manifest } from '../artifact/manifest.js'
import { RELEASE_ID, type RemoteManifest, type TransferPlan } from '../artifact/plan.js'
import * as remote from './remote-scripts.js'
import { packEntries, progressMeter } from '../artifact/transfer.js'

export interface LockOwner {
  readonly runId: string
  readonly attempt: number
  readonly runUrl: string
  readonly actor: string
  readonly sha: string
  readonly release: string
  readonly started: string
}

export interface Inspection {
  readonly current: string | undefined
  readonly previous: string | undefined
  readonly base: RemoteManifest | undefined
  /** Every complete release on the server (oldest first) with the commit it holds. */
  readonly releases: readonly { readonly id: string; readonly sha: string }[]
}

function where(session: SshSession): string {
  return describeTarget(session.target)
}

async function run(
  session: SshSession,
  what: string,
  command: string,
  stdin?: Buffer | string
): Promise<Buffer> {
  const result = await session.exec(command, stdin === undefined ? {} : { stdin })
  if (result.code !== 0) {
    throw new DeployError(
      `${where(session)}: ${what} failed (exit ${result.code}): ${result.stderr.trim() || 'no error output'}`
    )
  }
  return result.stdout
}

function releaseOrUndefined(text: string | undefined): string | undefined {
  const id = text?.trim()
  return id && RELEASE_ID.test(id) ? id : undefined
}

interface HeldLock {
  readonly holder: Partial<LockOwner> & { attempt?: number }
  readonly ageSeconds: number
}

function readHeld(lines: readonly string[]): HeldLock | undefined {
  const first = lines[0] ?? ''
  if (!first.startsWith(remote.MARK.held)) return undefined
  let holder: HeldLock['holder'] = {}
  try {
    holder = JSON.parse(lines[1] ?? '{}') as HeldLock['holder']
  } catch {
    // an unreadable owner file still leaves the age to report
  }
  return { holder, ageSeconds: Number(first.split(' ')[1] ?? 0) }
}

function describeHolder({ holder, ageSeconds }: HeldLock): string {
  const since = holder.started ?? `${Math.round(ageSeconds / 60)} min ago`
  return `held by ${holder.actor ?? 'an unknown owner'} since ${since} (run ${holder.runUrl ?? 'unknown'}, commit ${holder.sha?.slice(0, 12) ?? '?'})`
}

/** Why a held lock may be broken, or undefined when it must be respected. */
function staleReason(held: HeldLock, owner: LockOwner, staleSeconds: number): string | undefined {
  if (
    held.holder.runId !== undefined &&
    held.holder.runId === owner.runId &&
    (held.holder.attempt ?? 0) < owner.attempt
  ) {
    return 'it was left by an earlier attempt of this run, which has finished'
  }
  if (held.ageSeconds > staleSeconds) return `it is older than ${Math.round(staleSeconds / 60)} min`
  return undefined
}

/**
 * Takes the deploy lock and reads what the server has. A stale lock is broken with a log line;
 * a live one fails the run, naming its holder.
 */
export async function lockAndInspect(
  session: SshSession,
  options: {
    remotePath: string
    owner: LockOwner
    staleSeconds: number
    log: (text: string) => void
  }
): Promise<Inspection> {
  const attempt = async (breakLock: boolean): Promise<string[]> =>
    (
      await run(
        session,
        'taking the deploy lock',
        remote.lockAndInspect({
          remotePath: options.remotePath,
          owner: JSON.stringify(options.owner),
          breakLock
        })
      )
    )
      .toString('utf8')
      .split('\n')
  let lines = await attempt(false)
  let held = readHeld(lines)
  const reason = held && staleReason(held, options.owner, options.staleSeconds)
  if (held && reason) {
    options.log(`${where(session)}: breaking the deploy lock ${describeHolder(held)}: ${reason}.`)
    lines = await attempt(true)
    held = readHeld(lines)
  }
  if (held) {
    throw new DeployError(
      `${where(session)}: another deploy is running: the lock ${options.remotePath}/.gated-deploy/lock is ${describeHolder(held)}. ` +
        `Wait for it to finish; a lock left by a crashed run is broken after ${Math.round(options.staleSeconds / 60)} min or by a re-run of that run.`
    )
  }
  const value = (mark: string): string | undefined =>
    lines.find(line => line.startsWith(mark + ' '))?.slice(mark.length + 1)
  // grep's `<manifest file>:"sha":"<hex>"` lines: the commit each release holds.
  const shas = new Map(
    lines.flatMap(line => {
      const match = /^\.gated-deploy\/releases\/([^/]+)\.json:"sha":"([0-9a-f]*)"$/.exec(line)
      return match ? [[match[1] ?? '', match[2] ?? ''] as const] : []
    })
  )
  const manifestAt = lines.indexOf(remote.MARK.manifest)
  const manifestText =
    manifestAt >= 0
      ? lines
          .slice(manifestAt + 1)
          .join('\n')
          .trim()
      : ''
  let base: RemoteManifest | undefined
  if (manifestText !== '') {
    try {
      base = JSON.parse(manifestText) as RemoteManifest
    } catch {
      base = undefined // an unreadable manifest only costs incrementality
    }
  }
  if (base && (base.version !== 1 || base.release !== releaseOrUndefined(value(remote.MARK.base))))
    base = undefined
  return {
    current: releaseOrUndefined(value(remote.MARK.current)),
    previous: releaseOrUndefined(value(remote.MARK.previous)),
    base,
    releases: lines
      .filter(line => line.startsWith(remote.MARK.release + ' '))
      .map(line => line.slice(remote.MARK.release.length + 1))
      .flatMap(id => (RELEASE_ID.test(id) ? [{ id, sha: shas.get(id) ?? '' }] : []))
      .sort((a, b) => a.id.localeCompare(b.id))
  }
}

export interface Listing {
  readonly entries: Map<string, { type: 'f' | 'd' | 'l'; mode: string; target?: string }>
  readonly hashes: Map<string, string>
}

/**
 * Reads `HASH_FILES` output: "<hex>  ./<path>" NUL records and "<hex> *./<path>" newline lines
 * in any order. Stops at anything else, so a garbled section shows up as files without hashes.
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

/** Parses what `stageRelease` prints: the NUL-separated listing, a marker, then the hashes. */
export function parseListing(out: Buffer): Listing {
  const text = out.toString('utf8')
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
    if (record === remote.MARK.hashes) break
    const match = /^([fdl]) (\d+) ([\s\S]*)$/.exec(record)
    if (!match) continue
    const [, type, mode = '', p = ''] = match
    if (type === 'l') entries.set(p, { type, mode, target: field() })
    else entries.set(p, { type: type as 'f' | 'd', mode })
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

/** Waits for an exec fed by a local tar and for that tar; kills the tar if the exec fails. */
async function untilUploaded(
  exec: Promise<ExecResult>,
  packed: ReturnType<typeof packEntries>
): Promise<ExecResult> {
  try {
    const [result] = await Promise.all([exec, packed.done])
    return result
  } catch (error: unknown) {
    packed.abort() // a dead channel would leave tar blocked on a full pipe
    throw error
  }
}

/**
 * A staging exec started ahead of time (alongside the lock, so its channel and shell are ready
 * when the plan is): it waits for its header. `run` sends the header and the tar stream, then
 * checks every file's sha256 on the server against the manifest; `activate` or `finish` commits
 * the release. `cancel` sends nothing, and the remote program exits having touched nothing.
 */
export class PendingStage {
  private readonly input = new PassThrough()
  private readonly result: Promise<ExecResult>
  private started = false

  constructor(
    private readonly session: SshSession,
    private readonly options: {
      remotePath: string
      release: string
      shared: readonly { path: string; kind: 'file' | 'dir' }[]
    }
  ) {
    this.result = session.exec(remote.stageRelease(options), { stdin: this.input })
    this.result.catch(() => undefined) // reported by `run`; nobody waits for a cancelled one
  }

  cancel(): void {
    if (!this.started) this.input.end()
    this.started = true
  }

  /**
   * Uploads what `plan` sends and verifies the release; returns the bytes sent and how many
   * planned-as-reused files had to be sent after all.
   */
  async run(options: {
    root: string
    manifest: Manifest
    plan: TransferPlan
    base: string | undefined
    progress: (text: string) => void
    warn: (text: string) => void
  }): Promise<{ bytes: number; resent: number }> {
    const { session } = this
    if (this.started) throw new DeployError(`${where(session)}: staging was cancelled.`)
    this.started = true
    const packed = packEntries(options.root, options.plan.send)
    const meter = progressMeter({
      expectedBytes: options.plan.bytesSent,
      intervalMs: 3000,
      report: (percent, bytes) =>
        options.progress(
          `${where(session)}: ${percent}% (${formatBytes(bytes)} of ~${formatBytes(options.plan.bytesSent)})`
        )
    })
    meter.stream.pipe(this.input)
    // One exec: the base and the files to hard-link from it, then the tar of the rest.
    meter.stream.write(remote.stageHeader(options.base, options.plan.reuse))
    packed.stream.pipe(meter.stream)
    const listed = await untilUploaded(this.result, packed)
    if (listed.code !== 0) {
      throw new DeployError(
        `${where(session)}: unpacking the upload failed (exit ${listed.code}): ${listed.stderr.trim()}`
      )
    }
    let listing = parseListing(listed.stdout)
    let bytes = meter.bytes()
    const stale = staleReused(options.manifest, listing, options.plan.reuse)
    if (stale.length > 0) {
      options.warn(
        `${where(session)}: ${stale.length} file${stale.length === 1 ? '' : 's'} of ${options.base ?? '?'} changed on the server after it was verified (e.g. ${stale[0]?.path ?? '?'}); sending ${stale.length === 1 ? 'it' : 'them'} instead of reusing.`
      )
      const repaired = await this.repair(options.root, stale)
      listing = repaired.listing
      bytes += repaired.bytes
    }
    const problems = compareListing(
      options.manifest,
      listing,
      this.options.shared.map(s => s.path)
    )
    if (problems.length > 0) {
      throw new DeployError(
        `${where(session)}: the uploaded release does not match the manifest (${problems.length} problem${problems.length === 1 ? '' : 's'}); it was not activated:\n` +
          problems.slice(0, 20).join('\n')
      )
    }
    return { bytes, resent: stale.length }
  }

  /** Sends `entries` into the partial release and lists and hashes it again. */
  private async repair(
    root: string,
    entries: readonly Entry[]
  ): Promise<{ listing: Listing; bytes: number }> {
    const packed = packEntries(root, entries)
    const meter = progressMeter({ expectedBytes: 0, intervalMs: Infinity, report: () => undefined })
    packed.stream.pipe(meter.stream)
    const exec = this.session.exec(remote.repairRelease(this.options), { stdin: meter.stream })
    const listed = await untilUploaded(exec, packed)
    if (listed.code !== 0) {
      throw new DeployError(
        `${where(this.session)}: sending the changed files failed (exit ${listed.code}): ${listed.stderr.trim()}`
      )
    }
    return { listing: parseListing(listed.stdout), bytes: meter.bytes() }
  }
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

/** A verified `<id>.partial` to store as a release: its manifest and history line. */
export interface Commit extends remote.Commit {
  readonly manifestJson: string
}

const pruned = (out: Buffer): string[] =>
  [...out.toString('utf8').matchAll(/GD-PRUNED (\S+)/g)].map(m => m[1] ?? '')

/**
 * Switches `current` with the hooks (committing this run's release first, and pruning and
 * unlocking after, when asked). Returns the release it replaced and the releases pruned.
 */
export async function activate(
  session: SshSession,
  options: Omit<Parameters<typeof remote.activate>[0], 'commit'> & {
    commit?: Commit
    log: (text: string) => void
  }
): Promise<{ replaced: string | undefined; pruned: string[] }> {
  const result = await session.exec(remote.activate(options), {
    onStderr: options.log,
    ...(options.commit ? { stdin: options.commit.manifestJson } : {})
  })
  const replaced = releaseOrUndefined(/GD-REPLACED (\S*)/.exec(result.stdout.toString('utf8'))?.[1])
  const reasons: Record<number, string> = {
    [remote.EXIT.notStaged]: `release ${options.release} is not staged there`,
    [remote.EXIT.beforeActivate]: '`before-activate` failed; `current` was not switched',
    [remote.EXIT.afterActivate]: '`after-activate` failed; `current` was put back as it was'
  }
  if (result.code !== 0) {
    throw new DeployError(
      `${where(session)}: ${reasons[result.code] ?? `activation failed (exit ${result.code}): ${result.stderr.trim()}`}.`
    )
  }
  return { replaced, pruned: pruned(result.stdout) }
}

/**
 * Commits this run's release when given, prunes old releases and releases the lock, in one
 * exec. Returns the pruned release ids.
 */
export async function finish(
  session: SshSession,
  options: { remotePath: string; keep: number; commit?: Commit & { release: string } }
): Promise<string[]> {
  const { commit } = options
  const out = await run(
    session,
    commit ? 'storing the release' : 'pruning old releases',
    remote.finish(options),
    commit?.manifestJson
  )
  return pruned(out)
}
