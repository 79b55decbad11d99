/** The job summary: one row per stage, status and duration, plus the result line. */
import * as core from '@actions/core'
import type { RunStatus } from '../action-io.js'
import { formatDuration, type StageRecord } from './stages.js'

const ICONS: Record<StageRecord['status'], string> = {
  success: '✅ success',
  failure: '❌ failure',
  skipped: '⏭️ skipped'
}

export interface SummaryInput {
  readonly status: RunStatus
  readonly sha: string
  readonly durationMs: number
  readonly stages: readonly StageRecord[]
  readonly facts: readonly (readonly [string, string])[]
}

function escapeCell(text: string): string {
  return text.replace(/[<>&]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c)
}

export async function writeSummary(input: SummaryInput): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const firstLine = (text: string): string => escapeCell(text.split('\n')[0] ?? '')
  core.summary
    .addHeading(`gated-deploy: ${input.status}`, 2)
    .addRaw(
      `Commit <code>${escapeCell(input.sha.slice(0, 12) || 'unknown')}</code> · ${formatDuration(input.durationMs)}`,
      true
    )
    .addTable([
      [
        { data: 'Stage', header: true },
        { data: 'Status', header: true },
        { data: 'Duration', header: true },
        { data: 'Detail', header: true }
      ],
      ...input.stages.map(stage => [
        escapeCell(stage.name),
        ICONS[stage.status],
        stage.status === 'skipped' ? '' : formatDuration(stage.durationMs),
        firstLine(stage.detail)
      ])
    ])
  if (input.facts.length > 0) {
    core.summary.addTable(input.facts.map(([k, v]) => [escapeCell(k), escapeCell(v)]))
  }
  await core.summary.write()
}
