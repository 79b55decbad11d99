/**
 * Activate a release staged earlier, with no build: by id or commit sha (the `promote` input,
 * an approving comment, the in-run wait) or the previous release (rollback). Every host must
 * hold the same one.
 */
import * as core from '@actions/core'
import { Fleet } from '../deploy/fleet.js'
import { FleetFailure, type PromoteTarget, type ShipResult } from '../deploy/outcome.js'
import { errorMessage, Refusal } from '../errors.js'
import { plural } from '../format.js'
import { denied, failedWith, type RunResult } from '../result.js'
import { lockOwner } from './deploy.js'
import type { DeploymentTracker, ShipRun } from './services.js'

export function parseTarget(text: string): PromoteTarget {
  if (text === 'previous') return { kind: 'previous' }
  // A release id has a dash; a commit sha never does.
  return text.includes('-') ? { kind: 'release', id: text } : { kind: 'sha', sha: text }
}

/** Switches every host to `target`; throws a Refusal when the hosts do not all hold it. */
export async function activateStaged(
  run: ShipRun,
  target: PromoteTarget,
  options: { rollback: boolean; tracker: DeploymentTracker | undefined }
): Promise<ShipResult> {
  const { tracker } = options
  const { settings, context, log } = run
  const fleet = await Fleet.open({
    settings: settings.ship,
    context,
    log,
    owner: lockOwner(context, 'promotion')
  })
  let id: string | undefined
  try {
    const resolved = fleet.resolve(target)
    if (settings.ship.dryRun) {
      const would = `dry run: would switch current to ${resolved.id}`
      core.info(`${would} on ${plural(settings.ship.hosts.length, 'host')}; nothing was changed.`)
      log.skip('activate', would)
      return fleet.report('dry-run', resolved.id, resolved.sha)
    }
    id = resolved.id
    await fleet.activate({ release: resolved.id, sha: resolved.sha, log, tracker })
    await fleet.finish()
    return fleet.report(options.rollback ? 'rolled-back' : 'deployed', resolved.id, resolved.sha)
  } catch (error: unknown) {
    // A failed activation is recorded in the history (the staged release itself stays).
    if (id === undefined) await fleet.releaseLocks()
    else await fleet.abandon(id, errorMessage(error))
    if (id !== undefined && !(error instanceof Refusal)) {
      throw new FleetFailure(errorMessage(error), fleet.failureReport(id))
    }
    throw error
  } finally {
    fleet.close()
  }
}

/**
 * Runs an activation for `result`: its outcome (deployed, rolled back, refused or failed) with
 * the deployment record's id.
 */
export async function activation(
  run: ShipRun,
  result: RunResult,
  target: PromoteTarget,
  rollback: boolean
): Promise<RunResult> {
  const tracker = run.settings.ship.dryRun ? undefined : run.tracker(rollback)
  try {
    const shipped = await activateStaged(run, target, { rollback, tracker })
    return {
      ...result,
      status: shipped.status,
      sha: shipped.sha,
      shipped,
      deploymentId: tracker?.id
    }
  } catch (error: unknown) {
    if (error instanceof Refusal) return denied(result, error.message)
    return {
      ...failedWith(result, error),
      deploymentId: tracker?.id,
      ...(error instanceof FleetFailure ? { failedHosts: error.hosts } : {})
    }
  }
}

/** The `promote` and `rollback` inputs. */
export function promote(
  run: ShipRun,
  result: RunResult,
  intent: { target: string; rollback: boolean; reason: string }
): Promise<RunResult> {
  return activation(
    run,
    { ...result, decision: intent.rollback ? 'rollback' : 'promote', reason: intent.reason },
    parseTarget(intent.target),
    intent.rollback
  )
}
