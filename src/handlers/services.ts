/** What every handler is given: the run's inputs, context and stage log, and its GitHub services. */
import type { RunContext } from '../context.js'
import type { ActivationTracker } from '../deploy/outcome.js'
import type { GateApi } from '../github/gate-api.js'
import type { Settings, ShipSettings } from '../inputs.js'
import type { RunResult } from '../result.js'
import type { StageLog } from '../stage-log.js'

/** A GitHub deployment record around one activation; `id` once its activation started. */
export interface DeploymentTracker extends ActivationTracker {
  readonly id: number | undefined
  /** Creates the deployment now, in the background, so that `started` finds it made. */
  begin(release: string, sha: string): void
  /** The run stops before the switch: a begun deployment is marked as never live. */
  abandon(reason: string): void
}

export interface Run {
  readonly settings: Settings
  readonly context: RunContext
  readonly log: StageLog
  /** The gate's GitHub calls; throws when there is no token. */
  api(): GateApi
  /** A deployment record for the next activation, unless there is no token or `deployment-record` is false. */
  tracker(rollback: boolean): DeploymentTracker | undefined
  /**
   * Starts in the background the GitHub look-ups the report will need (the pull request and its
   * comment; the delivery-metrics history when `activating`), so that they overlap the deploy.
   */
  prepareReport(activating: boolean): void
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
