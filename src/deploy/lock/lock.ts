/**
 * The lock operation on one host: take the deploy lock (breaking a stale one with a log line)
 * and read what the server holds. A live lock fails the run, naming its holder.
 */
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { RELEASE_ID, type RemoteManifest } from '../../artifact/plan.js'
import { DeployError } from '../../errors.js'
import { mask } from '../../mask.js'
import type { SshSession } from '../../ssh/session.js'
import { describeTarget } from '../../ssh/target.js'
import { ABANDON_RELEASE } from '../abandon/abandon.js'
import { ACTIVATE_RELEASE } from '../activate/activate.js'
import { LiveOutput } from '../live-output.js'
import { MARK, program, runChecked, runProgram, stepFailed, unframe } from '../program.js'
import { SERVE } from '../serve/serve.js'
import { LISTING, sharedArgs, STAGE, Upload, type SharedPath } from '../stage/stage.js'
import {
  parseLockOwner,
  parseRemoteManifest,
  releaseOrUndefined,
  type LockOwner
} from '../trust.js'

const LOCK = program(
  'lock',
  LISTING,
  STAGE,
  ACTIVATE_RELEASE,
  ABANDON_RELEASE,
  SERVE,
  readFileSync(new URL('./lock.sh', import.meta.url), 'utf8')
)

/** Another run holds the deploy lock (a run with `lock-timeout` waits and tries again). */
export class LockHeld extends DeployError {
  override name = 'LockHeld'
}

/** What a host holds, read under its lock. */
export interface Inspection {
  readonly current: string | undefined
  readonly previous: string | undefined
  /** The newest complete release, with its manifest when that checks out. */
  readonly base: RemoteManifest | undefined
  /** Every complete release on the server, oldest first (by when it was stored), with its commit. */
  readonly releases: readonly { readonly id: string; readonly sha: string }[]
}

interface HeldLock {
  readonly holder: Partial<LockOwner>
  readonly ageSeconds: number
}

function readHeld(lines: readonly string[]): HeldLock | undefined {
  const first = lines[0] ?? ''
  if (!first.startsWith(MARK.GD_HELD + ' ')) return undefined
  const holder = parseLockOwner(lines[1] ?? '{}')
  // The server's clock when it could tell (`-` when not), else the owner's start time.
  const said = first.slice(MARK.GD_HELD.length + 1)
  const started = holder.started === undefined ? Number.NaN : Date.parse(holder.started)
  const age = /^\d+$/.test(said) ? Number(said) : (Date.now() - started) / 1000
  return { holder, ageSeconds: Number.isFinite(age) && age >= 0 ? age : 0 }
}

function describeHolder({ holder, ageSeconds }: HeldLock): string {
  const since = holder.started ?? `${Math.round(ageSeconds / 60)} min ago`
  return `held by ${holder.actor ?? 'an unknown owner'} since ${since} (run ${holder.runUrl ?? 'unknown'}, commit ${holder.sha?.slice(0, 12) ?? '?'})`
}

/** Why a held lock may be broken, or undefined when it must be respected. */
export function staleReason(
  held: HeldLock,
  owner: LockOwner,
  staleSeconds: number
): string | undefined {
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

/** Parses what lock.sh prints after taking the lock. */
export function parseInspection(
  lines: readonly string[],
  warn: (text: string) => void
): Inspection {
  const value = (mark: string): string | undefined =>
    lines.find(line => line.startsWith(mark + ' '))?.slice(mark.length + 1)
  // grep's `<manifest file>:"sha":"<hex>"` lines: the commit each release holds.
  const shas = new Map(
    lines.flatMap(line => {
      const match = /^\.gated-deploy\/releases\/([^/]+)\.json:"sha":"([0-9a-f]*)"$/.exec(line)
      return match ? [[match[1] ?? '', match[2] ?? ''] as const] : []
    })
  )
  const manifestAt = lines.indexOf(MARK.GD_MANIFEST)
  const manifestText =
    manifestAt >= 0
      ? lines
          .slice(manifestAt + 1)
          .join('\n')
          .trim()
      : ''
  const baseId = releaseOrUndefined(value(MARK.GD_BASE))
  let base: RemoteManifest | undefined
  if (baseId && manifestText !== '') {
    const parsed = parseRemoteManifest(manifestText, baseId)
    if ('manifest' in parsed) base = parsed.manifest
    else warn(`the manifest of ${baseId} cannot be used (${parsed.problem}): every file is sent.`)
  }
  return {
    current: releaseOrUndefined(value(MARK.GD_CURRENT)),
    previous: releaseOrUndefined(value(MARK.GD_PREVIOUS)),
    base,
    releases: lines
      .filter(line => line.startsWith(MARK.GD_RELEASE + ' '))
      .map(line => line.slice(MARK.GD_RELEASE.length + 1))
      .flatMap(id => (RELEASE_ID.test(id) ? [{ id, sha: shas.get(id) ?? '' }] : []))
  }
}

/** A lock taken: what the server holds, and the upload waiting in the same exec when asked. */
export interface Locked {
  readonly inspection: Inspection
  readonly upload: Upload | undefined
}

/**
 * One run of lock.sh. With `stage`, the exec stays open after the lock is taken (its output up to
 * GD-READY is the inspection) and becomes the upload; else it ends after the inspection.
 */
async function takeLock(
  session: SshSession,
  args: readonly string[],
  stage: { release: string; remotePath: string; shared: readonly SharedPath[] } | undefined
): Promise<{ lines: string[]; upload: Upload | undefined }> {
  if (!stage) {
    const out = await runChecked(session, LOCK, 'taking the deploy lock', args)
    return { lines: out.toString('utf8').split('\n'), upload: undefined }
  }
  const input = new PassThrough()
  const output = new LiveOutput()
  const running = runProgram(session, LOCK, args, {
    stdin: input,
    onStdout: chunk => output.push(chunk),
    onStderr: text => output.onStderr?.(text)
  })
  running.then(
    () => output.end(),
    () => output.end()
  )
  // GD-READY of the program itself: after its start frame, whatever a greeting printed.
  const begun = await output.next(MARK.GD_BEGIN, 0)
  const ready = begun && (await output.next(MARK.GD_READY, begun.start))
  if (!ready) {
    const result = await running
    if (result.code !== 0) throw stepFailed(session, 'taking the deploy lock', result)
    return { lines: result.output.toString('utf8').split('\n'), upload: undefined }
  }
  const framed = unframe(output.slice(0, ready.start + 1)) ?? Buffer.alloc(0)
  const lines = framed.toString('utf8').split('\n')
  const live = { output, readyEnd: ready.end, serves: lines.includes(MARK.GD_SERVES) }
  return { lines, upload: new Upload(session, running, input, live, stage) }
}

/**
 * Takes the deploy lock and reads what the server has; with `stage`, keeps the exec open as the
 * upload of that release. A stale lock is broken with a log line; a live one fails the run,
 * naming its holder.
 */
export async function lockAndInspect(
  session: SshSession,
  options: {
    remotePath: string
    owner: LockOwner
    staleSeconds: number
    warn: (text: string) => void
    /** The release to stage in the same exec, and what switching to it needs. */
    stage?: {
      release: string
      shared: readonly SharedPath[]
      sha: string
      beforeActivate: string
      afterActivate: string
    }
  }
): Promise<Locked> {
  const where = describeTarget(session.target)
  const { stage, remotePath } = options
  const attempt = (mode: 'take' | 'break'): ReturnType<typeof takeLock> =>
    takeLock(
      session,
      [
        remotePath,
        mask(JSON.stringify(options.owner)),
        mode,
        ...(stage
          ? [
              stage.release,
              stage.sha,
              stage.beforeActivate,
              stage.afterActivate,
              ...stage.shared.flatMap(sharedArgs)
            ]
          : [])
      ],
      stage ? { ...stage, remotePath } : undefined
    )
  let taken = await attempt('take')
  let held = readHeld(taken.lines)
  const reason = held && staleReason(held, options.owner, options.staleSeconds)
  if (held && reason) {
    options.warn(`${where}: breaking the deploy lock ${describeHolder(held)}: ${reason}.`)
    taken = await attempt('break')
    held = readHeld(taken.lines)
  }
  if (held) {
    throw new LockHeld(
      `${where}: another deploy is running: the lock ${remotePath}/.gated-deploy/lock is ${describeHolder(held)}. ` +
        `Wait for it to finish; a lock left by a crashed run is broken after ${Math.round(options.staleSeconds / 60)} min or by a re-run of that run.`
    )
  }
  return {
    inspection: parseInspection(taken.lines, text => options.warn(`${where}: ${text}`)),
    upload: taken.upload
  }
}

/** What a dry run learns of a host without changing anything on it. */
export interface Probe {
  readonly inspection: Inspection
  /** Undefined when the lock is free; else who holds it. */
  readonly heldBy: string | undefined
  /** The remote path does not exist yet (it could be created). */
  readonly absent: boolean
}

/**
 * A dry run's look at a host: whether the lock is free and what the server holds, changing
 * nothing (no directory, no lock, no removal). A remote path that a real run could not create
 * fails the same way.
 */
export async function inspectOnly(
  session: SshSession,
  options: { remotePath: string; warn: (text: string) => void }
): Promise<Probe> {
  const where = describeTarget(session.target)
  const lines = (
    await runChecked(session, LOCK, 'inspecting the server', [options.remotePath, '{}', 'inspect'])
  )
    .toString('utf8')
    .split('\n')
  if (lines[0] === MARK.GD_ABSENT) {
    return {
      inspection: { current: undefined, previous: undefined, base: undefined, releases: [] },
      heldBy: undefined,
      absent: true
    }
  }
  const held = readHeld(lines)
  return {
    inspection: parseInspection(lines, text => options.warn(`${where}: ${text}`)),
    heldBy: held ? describeHolder(held) : undefined,
    absent: false
  }
}
