/** The job summary (`core.summary`): the rendered report, without the PR comment's marker. */
import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import type { RunReport } from './model.js'
import { renderReport } from './render.js'

export async function writeJobSummary(report: RunReport): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  try {
    await core.summary.addRaw(renderReport(report, { marker: false }), true).write()
  } catch (error: unknown) {
    core.warning(`Could not write the job summary: ${errorMessage(error)}.`)
  }
}
