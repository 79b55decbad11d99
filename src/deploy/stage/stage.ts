/**
 * The stage operation on one host: one exec, started alongside the lock so its channel is ready
 * when the plan is, receives the list of files to reuse and the tar of the rest, and answers
 * with every entry and hash of the new release, which is checked against the manifest here.
 */
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { sharedLinkTarget, type TransferPlan } from '../../artifact/plan.js'
import type { Entry, Manifest, Scan } from '../../artifact/manifest.js'
import { packEntries, progressMeter } from '../../artifact/transfer.js'
import { DeployError } from '../../errors.js'
import { formatBytes, plural } from '../../format.js'
import type { SshSession } from '../../ssh/session.js'
import { describeTarget } from '../../ssh/target.js'
import type { LiveOutput } from '../live-output.js'
import { MARK, program, runProgram, type ProgramResult } from '../program.js'
import { Commands } from '../serve/serve.js'
import {
  compareListing,
  EARLY_BLOCKS,
  earlyHashList,
  parseListing,
  staleReused,
  type Listing
} from './listing.js'

/** Defines `list_and_hash`: every entry and every file's sha256 of the current directory. */
export const LISTING = readFileSync(new URL('./listing.sh', import.meta.url), 'utf8')
/** Defines `stage_release`, which lock.sh runs under the lock in the same exec. */
export const STAGE = readFileSync(new URL('./stage.sh', import.meta.url), 'utf8')
const REPAIR = program(
  'repair',
  LISTING,
  readFileSync(new URL('./repair.sh', import.meta.url), 'utf8')
)

export interface SharedPath {
  readonly path: string
  readonly kind: 'file' | 'dir'
}

/** A shared path as stage.sh takes it: path, kind, and the relative link to shared/. */
export function sharedArgs(shared: SharedPath): string[] {
  return [shared.path, shared.kind, sharedLinkTarget(shared.path)]
}

/** The modes (octal) the manifest's files and directories have: how a server without GNU find lists them. */
export function modesOf(manifest: Scan): string[] {
  const modes = new Set<string>()
  for (const entry of manifest.entries)
    if (entry.type !== 'symlink') modes.add(entry.mode.toString(8))
  return [...modes].sort()
}

/**
 * The stdin of stage.sh, ahead of the tar: a line with the reuse list's length, the base release
 * (`-` for none) and the artifact's modes, then the NUL-separated files to hard-link from that
 * base; a line with the length of the list of files to hash during the upload (earlyHashList)
 * and their threshold in 512-byte blocks, then that list.
 */
export function stageHeader(
  base: string | undefined,
  reuse: readonly string[],
  modes: readonly string[] = [],
  early = ''
): Buffer {
  const list = Buffer.from(reuse.map(p => p + '\0').join(''), 'utf8')
  const line = [String(list.length), base ?? '-', ...modes].join(' ')
  const hashList = Buffer.from(early, 'utf8')
  return Buffer.concat([
    Buffer.from(`${line}\n`),
    list,
    Buffer.from(`${hashList.length} ${EARLY_BLOCKS}\n`),
    hashList
  ])
}

/**
 * Waits for a program fed by a local tar, and for that tar. Whenever the program ends first (it
 * failed: disk full, a read-only directory), the tar is stopped at once: nothing reads the rest
 * of its output, and waiting for it would hang with the lock held.
 */
async function untilUploaded(
  running: Promise<ProgramResult>,
  packed: ReturnType<typeof packEntries>
): Promise<ProgramResult> {
  let result: ProgramResult
  try {
    result = await running
  } catch (error: unknown) {
    packed.abort()
    packed.done.catch(() => undefined)
    throw error
  }
  if (result.code !== 0) {
    packed.abort()
    packed.done.catch(() => undefined)
    return result
  }
  await packed.done
  return result
}

/**
 * The upload half of a lock exec (lock.sh with a release): the lock is taken and the exec waits
 * for its plan. `run` sends the header and the tar stream, then checks every file's sha256 on
 * the server against the manifest; activating or finishing stores the release. `cancel` sends
 * nothing, and the program releases the lock having changed nothing else. On a server that
 * serves commands after staging (GNU tar), stdin stays open after the tar, and `commands` then
 * stores, switches and unlocks in the same exec.
 */
export class Upload {
  private state: 'waiting' | 'running' | 'cancelled' = 'waiting'
  private readonly where: string
  /** Set once staged on a server that serves commands, while it does. */
  commands: Commands | undefined

  constructor(
    private readonly session: SshSession,
    private readonly result: Promise<ProgramResult>,
    private readonly input: PassThrough,
    private readonly live: { output: LiveOutput; readyEnd: number; serves: boolean },
    private readonly options: {
      remotePath: string
      release: string
      shared: readonly SharedPath[]
    }
  ) {
    this.where = describeTarget(session.target)
  }

  /**
   * Ends a waiting upload: the program releases the lock and exits. Resolves once it has, true
   * when the lock was released (false when the upload already ran or the exec failed).
   */
  async cancel(): Promise<boolean> {
    if (this.state !== 'waiting') return false
    this.state = 'cancelled'
    this.input.end()
    try {
      const ended = await this.result
      return ended.code === 0 && ended.output.includes(`\n${MARK.GD_UNLOCKED}\n`)
    } catch {
      return false
    }
  }

  /**
   * Uploads what `plan` sends and verifies the release; returns the bytes sent and how many
   * planned-as-reused files had to be sent after all.
   */
  async run(options: {
    root: string
    scan: Scan
    /** The complete manifest: awaited once the upload is done (hashing.ts). */
    manifest: () => Promise<Manifest>
    plan: TransferPlan
    base: string | undefined
    progress: (text: string) => void
    warn: (text: string) => void
  }): Promise<{ bytes: number; resent: number }> {
    if (this.state !== 'waiting') throw new DeployError(`${this.where}: staging was cancelled.`)
    this.state = 'running'
    const packed = packEntries(options.root, options.plan.send)
    const meter = progressMeter({
      expectedBytes: options.plan.bytesSent,
      intervalMs: 3000,
      report: (percent, bytes) =>
        options.progress(
          `${this.where}: ${percent}% (${formatBytes(bytes)} of ~${formatBytes(options.plan.bytesSent)})`
        )
    })
    // A serving program reads commands after the tar: stdin stays open.
    meter.stream.pipe(this.input, { end: !this.live.serves })
    // One exec: the base and the files to hard-link from it, then the tar of the rest.
    const reused = new Set(options.plan.reuse)
    const early = earlyHashList(
      options.plan.send,
      options.scan.entries.flatMap(e => (e.type === 'file' && reused.has(e.path) ? [e] : []))
    )
    const modes = modesOf(options.scan)
    meter.stream.write(stageHeader(options.base, options.plan.reuse, modes, early))
    packed.stream.pipe(meter.stream)
    const staged = this.live.serves
      ? await this.untilStaged(packed)
      : await untilUploaded(this.result, packed)
    if (staged.code !== 0) {
      throw new DeployError(
        `${this.where}: staging release ${this.options.release} failed (exit ${staged.code}): ${staged.error}`
      )
    }
    const manifest = await options.manifest()
    let listing = parseListing(staged.output)
    let bytes = meter.bytes()
    const stale = staleReused(manifest, listing, options.plan.reuse)
    if (stale.length > 0) {
      options.warn(
        `${this.where}: ${plural(stale.length, 'file')} of ${options.base ?? '?'} changed on the server after it was verified (e.g. ${stale[0]?.path ?? '?'}); sending ${stale.length === 1 ? 'it' : 'them'} instead of reusing.`
      )
      // The repair is an exec of its own: the lock exec hands over first.
      await this.commands?.detach()
      this.commands = undefined
      const repaired = await this.repair(options.root, stale, modes)
      listing = repaired.listing
      bytes += repaired.bytes
    }
    const problems = compareListing(
      manifest,
      listing,
      this.options.shared.map(s => s.path)
    )
    if (problems.length > 0) {
      throw new DeployError(
        `${this.where}: the uploaded release does not match the manifest (${plural(problems.length, 'problem')}); it was not activated:\n` +
          problems.slice(0, 20).join('\n')
      )
    }
    return { bytes, resent: stale.length }
  }

  /**
   * Waits for the serving program's GD-STAGED line (its listing before it) and for the local
   * tar; from then on it takes `commands`. A program that ends first failed: as untilUploaded.
   */
  private async untilStaged(packed: ReturnType<typeof packEntries>): Promise<ProgramResult> {
    const { output, readyEnd } = this.live
    const found = await output.next(MARK.GD_STAGED, readyEnd)
    if (!found) return untilUploaded(this.result, packed)
    // Before the local tar is awaited: a failure from here on is cleaned up through the commands.
    this.commands = new Commands(this.session, this.input, output, this.result, found.end)
    await packed.done
    return { code: 0, output: output.slice(readyEnd, found.start + 1), error: '' }
  }

  /** Sends `entries` into the partial release and lists and hashes it again. */
  private async repair(
    root: string,
    entries: readonly Entry[],
    modes: readonly string[]
  ): Promise<{ listing: Listing; bytes: number }> {
    const packed = packEntries(root, entries)
    const meter = progressMeter({ expectedBytes: 0, intervalMs: Infinity, report: () => undefined })
    packed.stream.pipe(meter.stream)
    const running = runProgram(
      this.session,
      REPAIR,
      [this.options.remotePath, this.options.release, ...modes],
      {
        stdin: meter.stream
      }
    )
    const repaired = await untilUploaded(running, packed)
    if (repaired.code !== 0) {
      throw new DeployError(
        `${this.where}: sending the changed files failed (exit ${repaired.code}): ${repaired.error}`
      )
    }
    return { listing: parseListing(repaired.output), bytes: meter.bytes() }
  }
}
