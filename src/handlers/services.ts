/** What every handler is given: the run's inputs, context and stage log, and its GitHub services. */
import type { RunContext } from '../context.js'
import type { ActivationTracker } from '../deploy/outcome.js'
import type { GateApi } from '../github/gate-api.js'
import type { Settings, ShipSettings } from '../inputs.js'
import type { RunResult } from '../result.js'
import type { StageLog } from '../stage-log.js'

/** A GitHub deployment record around one activation; `id` once it was created. */
export interface DeploymentTracker extends ActivationTracker {
  readonly id: number | undefined
}

export interface Run {
  readonly settings: Settings
  readonly context: RunContext
  readonly log: StageLog
  /** The gate's GitHub calls; throws when there is no token. */
  api(): GateApi
  /** A deployment record for the next activation, unless there is no token or `deployment-record` is false. */
  tracker(rollback: boolean): DeploymentTracker | undefined
}

export type ShipRun = Run & { readonly settings: Settings & { readonly ship: ShipSettings } }

/** The run with its SSH settings, or a clear error when `hosts` were not given. */
export function withShip(run: Run): ShipRun {
  const ship = run.settings.ship
  if (!ship) throw new Error('This needs `hosts` and the SSH inputs.')
  return { ...run, settings: { ...run.settings, ship } }
}

/** The result a run starts from: nothing done yet for the run's own commit. */
export function startResult(run: Run): RunResult {
  return {
    status: 'failed',
    decision: undefined,
    reason: undefined,
    sha: run.context.sha,
    shipped: undefined,
    deploymentId: undefined,
    failure: undefined
  }
}
