/** The record of what each stage did, kept for outputs, the job summary and (later) the PR comment. */
import * as core from '@actions/core'
import { DeployError, errorMessage } from '../errors.js'

export type StageStatus = 'success' | 'failure' | 'skipped'

export interface StageRecord {
  readonly name: string
  readonly status: StageStatus
  readonly durationMs: number
  readonly detail: string
}

/** "1 file", "2 files". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** "512 B", "1.5 KiB", "60.3 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit] ?? ''}`
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`
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
