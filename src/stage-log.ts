/**
 * The stage runner: each stage of a run in its own log group, timed, with a one-line result;
 * the records feed the outputs, the job summary and the PR report.
 */
import * as core from '@actions/core'
import { DeployError, errorMessage } from './errors.js'
import { formatDuration } from './format.js'

export type StageStatus = 'success' | 'failure' | 'skipped'

export interface StageRecord {
  readonly name: string
  readonly status: StageStatus
  readonly durationMs: number
  readonly detail: string
}

/** A stage that failed; carries what the report shows (exit code and output tail). */
export class StageFailure extends DeployError {
  constructor(
    readonly stage: string,
    message: string,
    readonly tail = ''
  ) {
    super(message)
  }
}

export class StageLog {
  readonly records: StageRecord[] = []

  skip(name: string, detail: string): void {
    this.records.push({ name, status: 'skipped', durationMs: 0, detail })
  }

  /**
   * Runs one stage in a collapsible log group, records its status and duration, and logs a
   * one-line result outside the group so it shows when the group is folded.
   * `fn` returns the detail line for the report.
   */
  async run<T>(name: string, fn: () => Promise<{ value: T; detail: string }>): Promise<T> {
    const started = Date.now()
    try {
      const { value, detail } = await core.group(name, fn)
      const durationMs = Date.now() - started
      this.records.push({ name, status: 'success', durationMs, detail })
      core.info(`✓ ${name} (${formatDuration(durationMs)})${detail ? `: ${detail}` : ''}`)
      return value
    } catch (error: unknown) {
      const durationMs = Date.now() - started
      this.records.push({ name, status: 'failure', durationMs, detail: errorMessage(error) })
      core.info(`✗ ${name} (${formatDuration(durationMs)})`)
      throw error
    }
  }
}
