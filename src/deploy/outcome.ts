/**
 * What the fleet reports and is asked: the result of a deploy, promotion or rollback with what
 * became of each host, the history line each server records, and which release a promotion
 * target means on one host.
 */
import { DeployError } from '../errors.js'
import { mask } from '../mask.js'
import type { Inspection } from './lock/lock.js'

/** Told when an activation starts and how it ended (the GitHub deployment record listens). */
export interface ActivationTracker {
  started(release: string, sha: string): Promise<void>
  finished(ok: boolean, detail: string): Promise<void>
}

/** Where one host ended: the run's status, or what happened to it when the run failed. */
export type HostStatus =
  | ShipResult['status']
  | 'failed'
  | 'switched-back'
  | 'switch-back-failed'
  | 'left-switched'
  | 'not-switched'

/** Seconds each stage took on one host (absent: the stage did not run there). */
export interface HostTimings {
  stage?: number
  activate?: number
  health?: number
}

export interface HostReport {
  readonly host: string
  readonly release: string
  readonly previousRelease: string | undefined
  readonly status: HostStatus
  /** The rollout batch the host was switched in, from 1 (undefined: never tried). */
  readonly batch: number | undefined
  readonly timings: HostTimings
  readonly filesSent: number
  /** Bytes on the wire: the tar stream, headers and padding included. */
  readonly bytesSent: number
  /** The sent files' own bytes (what a reader means by "sent"). */
  readonly fileBytes: number
  readonly filesReused: number
}

/** A failed activation, with what became of each host (for the `hosts` output). */
export class FleetFailure extends DeployError {
  override name = 'FleetFailure'
  constructor(
    message: string,
    readonly hosts: readonly HostReport[]
  ) {
    super(message)
  }
}

/** What a deploy, promotion or rollback did on the servers. */
export interface ShipResult {
  readonly status: 'staged' | 'deployed' | 'rolled-back' | 'dry-run'
  readonly release: string
  /** The commit the release holds. */
  readonly sha: string
  readonly previousRelease: string | undefined
  readonly hosts: readonly HostReport[]
  readonly filesUploaded: number
  readonly bytesUploaded: number
  readonly filesReused: number
}

export type PromoteTarget =
  | { readonly kind: 'release'; readonly id: string }
  | { readonly kind: 'sha'; readonly sha: string }
  | { readonly kind: 'previous' }

export function historyLine(
  event: string,
  release: string,
  context: { sha: string; actor: string; runUrl: string },
  extra: Record<string, string> = {}
): string {
  return mask(
    JSON.stringify({
      event,
      release,
      sha: context.sha,
      at: new Date().toISOString(),
      by: context.actor,
      run: context.runUrl,
      ...extra
    })
  )
}

/** "release <id>", "commit <sha12>", "the previous release". */
export function describePromoteTarget(target: PromoteTarget): string {
  if (target.kind === 'release') return `release ${target.id}`
  if (target.kind === 'sha') return `commit ${target.sha.slice(0, 12)}`
  return 'the previous release'
}

/** The release `target` means on a host that holds `inspection`, if it has one. */
export function resolveOn(
  inspection: Inspection,
  target: PromoteTarget
): { id: string; sha: string } | undefined {
  const { releases, current, previous } = inspection
  if (target.kind === 'release') return releases.find(r => r.id === target.id)
  if (target.kind === 'sha') return releases.filter(r => r.sha.startsWith(target.sha)).at(-1)
  const recorded = releases.find(r => r.id === previous && r.id !== current)
  if (recorded) return recorded
  const live = releases.findIndex(r => r.id === current)
  return live > 0 ? releases[live - 1] : undefined
}
