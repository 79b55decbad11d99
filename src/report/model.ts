/**
 * The typed input of every report (PR comment, job summary): plain data, built once by the
 * orchestrator as an object literal so the compiler checks every field.
 */
import type { Decision, RunStatus } from '../action-io.js'
import type { StageRecord } from '../stage-log.js'

/** One failing test: its display name and the first line of its message. */
export interface TestFailure {
  readonly name: string
  readonly message: string
}

/** Counts from the JUnit reports; `failures` holds only the first few. */
export interface TestSummary {
  readonly total: number
  readonly passed: number
  readonly failed: number
  readonly skipped: number
  readonly failures: readonly TestFailure[]
}

export interface TransferSummary {
  readonly filesSent: number
  /** The sent files' own bytes (the `bytes-uploaded` output counts the tar stream). */
  readonly bytesSent: number
  readonly filesReused: number
}

export interface HostRelease {
  readonly host: string
  readonly release: string
  readonly previousRelease: string | undefined
  /** What became of the host when it differs from the run's status (a failed rollout). */
  readonly status?: string
  /** The rollout batch it switched in, from 1. */
  readonly batch?: number
  /** What this host was sent and reused (absent: only the run's totals are known). */
  readonly filesSent?: number
  /** The sent files' own bytes. */
  readonly bytesSent?: number
  readonly filesReused?: number
  /** Seconds each stage took on this host (absent: the stage did not run there). */
  readonly timings?: {
    readonly stage?: number
    readonly activate?: number
    readonly health?: number
  }
}

/**
 * The four DORA keys for one environment over a window of at most `windowDays` days.
 * Rates are 0..1; times are milliseconds; a time is `undefined` when there was nothing to measure.
 */
export interface DoraMetrics {
  /** Days the figures cover: the window, or less when the history is younger (at least 7). */
  readonly windowDays: number
  /** Successful deployments of a change (rollbacks excluded) in the window. */
  readonly deployments: number
  readonly deploymentsPerWeek: number
  /** Median commit → successful deployment. */
  readonly leadTimeMs: number | undefined
  readonly leadTimeSamples: number
  /** Failed changes / finished changes. */
  readonly changeFailureRate: number
  readonly failedChanges: number
  readonly finishedChanges: number
  /** Median time from a failure to the next successful deployment. */
  readonly timeToRestoreMs: number | undefined
  readonly restoreSamples: number
}

/** Why the DORA figures are not shown, e.g. "only 1 finished deployment in the last 90 days". */
export interface DoraInsufficient {
  readonly insufficient: string
}

export type DoraResult = DoraMetrics | DoraInsufficient

export interface RunReport {
  readonly status: RunStatus
  readonly decision: Decision | undefined
  readonly reason: string | undefined
  readonly environment: string
  readonly sha: string
  readonly runUrl: string
  /** `owner/repo`. */
  readonly repository: string
  readonly stages: readonly StageRecord[]
  readonly tests: TestSummary | undefined
  readonly transfer: TransferSummary | undefined
  readonly hosts: readonly HostRelease[]
  readonly release: string | undefined
  readonly previousRelease: string | undefined
  readonly environmentUrl: string | undefined
  /** What a reader can do next: approve a staged release, or roll back a deployed one. */
  readonly next: 'deploy' | 'rollback' | undefined
  readonly approvalCommand: string
  readonly rollbackCommand: string
  /**
   * Where the next step is taken: the pull request the report is about, or `none` when there
   * is none (a push without one, a dispatch), where the workflow's `promote` / `rollback` inputs
   * do it. Absent: the pull request, unnamed.
   */
  readonly pullRequest?: number | 'none'
  readonly dora: DoraResult | undefined
  /** The failure message and output tail, when the run failed. */
  readonly error: string | undefined
}
