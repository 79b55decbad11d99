/**
 * Activates a release staged earlier, with no build: by id or commit sha (the `promote` input,
 * an approving comment) or the previous release (rollback). Every host must hold the same one.
 */
import type { RunContext } from '../context.js'
import { DeployError, errorMessage } from '../errors.js'
import type { ShipSettings } from '../inputs.js'
import type { StageLog } from '../stage-log.js'
import { describeTarget } from '../ssh/target.js'
import { Fleet, type ActivationTracker, type LockedHost } from '../deploy/fleet.js'
import { lockOwner, summarise, type ShipResult } from './deploy.js'

/** A promotion that must not happen (nothing staged for that commit, hosts disagree): a denial. */
export class Refusal extends DeployError {
  override name = 'Refusal'
}

export type PromoteTarget =
  | { readonly kind: 'release'; readonly id: string }
  | { readonly kind: 'sha'; readonly sha: string }
  | { readonly kind: 'previous' }

export function parseTarget(text: string): PromoteTarget {
  if (text === 'previous') return { kind: 'previous' }
  return /^\d{14}-/.test(text) ? { kind: 'release', id: text } : { kind: 'sha', sha: text }
}

function describe(target: PromoteTarget): string {
  if (target.kind === 'release') return `release ${target.id}`
  if (target.kind === 'sha') return `commit ${target.sha.slice(0, 12)}`
  return 'the previous release'
}

function resolveOn(
  locked: LockedHost,
  target: PromoteTarget
): { id: string; sha: string } | undefined {
  const { releases, current, previous } = locked.inspection
  if (target.kind === 'release') return releases.find(r => r.id === target.id)
  if (target.kind === 'sha') return releases.filter(r => r.sha.startsWith(target.sha)).at(-1)
  const recorded = releases.find(r => r.id === previous && r.id !== current)
  if (recorded) return recorded
  const live = releases.findIndex(r => r.id === current)
  return live > 0 ? releases[live - 1] : undefined
}

/** The one release every host resolves `target` to; a Refusal otherwise. */
export function resolveTarget(
  hosts: readonly LockedHost[],
  target: PromoteTarget
): { id: string; sha: string } {
  const found = hosts.map(locked => ({
    where: describeTarget(locked.session.target),
    release: resolveOn(locked, target)
  }))
  const missing = found.filter(f => f.release === undefined).map(f => f.where)
  if (missing.length > 0) {
    const hint =
      target.kind === 'sha'
        ? ' Was a commit pushed after staging? Only the release staged for the current head can be approved; let the new build stage first.'
        : ''
    throw new Refusal(`${describe(target)} is not staged on ${missing.join(', ')}.${hint}`)
  }
  const ids = new Set(found.map(f => f.release?.id))
  if (ids.size > 1) {
    throw new Refusal(
      `the hosts disagree on ${describe(target)}: ${found.map(f => `${f.where}: ${f.release?.id ?? '?'}`).join(', ')}`
    )
  }
  const first = found[0]?.release
  if (!first) throw new Refusal('no hosts')
  return first
}

export async function promote(options: {
  settings: ShipSettings
  context: RunContext
  log: StageLog
  target: PromoteTarget
  tracker?: ActivationTracker
}): Promise<ShipResult & { readonly sha: string }> {
  const { settings, log, target } = options
  const fleet = await Fleet.open({
    settings,
    context: options.context,
    log,
    owner: lockOwner(options.context, 'promotion')
  })
  let id: string | undefined
  try {
    const resolved = resolveTarget(fleet.hosts, target)
    id = resolved.id
    fleet.useCommit(resolved.sha)
    const hosts = [...fleet.hosts]
    await fleet.activate(resolved.id, log, options.tracker)
    await fleet.finish()
    const sent = hosts.map(locked => ({
      locked,
      plan: { filesSent: 0, filesReused: 0 },
      bytesSent: 0
    }))
    const status = target.kind === 'previous' ? 'rolled-back' : 'deployed'
    return { ...summarise(status, resolved.id, sent), sha: resolved.sha }
  } catch (error: unknown) {
    // A failed activation is recorded in the history (the staged release itself stays).
    if (id === undefined) await fleet.unlockAll()
    else await fleet.abandon(id, errorMessage(error))
    throw error
  } finally {
    fleet.close()
  }
}
