/** What one run carries from stage to stage: its inputs, its context, its services and its outcome. */
import type { Decision, RunStatus } from './action-io.js'
import type { RunContext } from './context.js'
import type { Octokit } from './github/client.js'
import type { GateApi } from './github/gate-api.js'
import type { Settings, ShipSettings } from './inputs.js'
import type { DeploymentRecord } from './github/publish.js'
import type { StageLog } from './stage-log.js'
import type { ShipResult } from './handlers/deploy.js'

export interface Outcome {
  status: RunStatus
  decision: Decision | undefined
  reason: string | undefined
  sha: string
  shipped: ShipResult | undefined
  /** Fails the run (failures and refusals). */
  failure: string | undefined
  deployment: DeploymentRecord | undefined
}

export interface Run {
  readonly settings: Settings
  readonly context: RunContext
  readonly log: StageLog
  readonly outcome: Outcome
  /** Undefined without a `github-token`: nothing is reported to GitHub. */
  readonly octokit: Octokit | undefined
  /** The gate's GitHub calls; throws when there is no token. */
  api(): GateApi
  /** A deployment record for the next activation, unless `deployment-record` is false. */
  tracker(rollback: boolean): DeploymentRecord | undefined
}

export type ShipRun = Run & { readonly settings: Settings & { readonly ship: ShipSettings } }

export function deny(outcome: Outcome, reason: string): void {
  outcome.status = 'denied'
  outcome.decision = 'deny'
  outcome.reason = reason
  outcome.failure = `Refused: ${reason}.`
}
