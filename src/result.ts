/**
 * The one result of a run. Every handler returns it; only `main.ts` turns it into outputs, the
 * job summary and the PR report.
 */
import type { Decision, RunStatus } from './action-io.js'
import type { HostReport, ShipResult } from './deploy/outcome.js'
import { errorMessage } from './errors.js'

export interface RunResult {
  readonly status: RunStatus
  readonly decision: Decision | undefined
  readonly reason: string | undefined
  /** The commit built, staged or activated. */
  readonly sha: string
  readonly shipped: ShipResult | undefined
  /** The GitHub deployment recorded for an activation. */
  readonly deploymentId: number | undefined
  /** What became of each host of a deploy or activation that failed (the `hosts` output). */
  readonly failedHosts?: readonly HostReport[]
  /** Why the run fails (failures and refusals); undefined when it succeeds. */
  readonly failure: string | undefined
}

/** `result` turned into a failure by `error`, keeping what was done before it. */
export function failedWith(result: RunResult, error: unknown): RunResult {
  return { ...result, status: 'failed', failure: errorMessage(error) }
}

/** A refusal: nothing was done, and the run fails saying why. */
export function denied(result: RunResult, reason: string): RunResult {
  return {
    ...result,
    status: 'denied',
    decision: 'deny',
    reason,
    failure: `Refused: ${reason.replace(/\.$/, '')}.`
  }
}
