/**
 * Reporting to GitHub: the deployment record around an activation, the delivery metrics, the
 * sticky pull-request comment and the job summary. Reporting never fails a run: an API error
 * becomes one warning line.
 */
import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { errorMessage } from '../errors.js'
import type { Octokit, Repo } from '../github/client.js'
import { findPullForCommit, upsertStickyComment } from '../github/comments.js'
import { createDeployment, setDeploymentStatus } from '../github/deployments.js'
import type { ActivationTracker } from '../deploy/fleet.js'
import { fetchDeploymentHistory, computeDora } from './dora.js'
import type { DoraResult, RunReport } from './model.js'
import { renderReport } from './render.js'

async function safely<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (error: unknown) {
    core.warning(
      `Reporting: could not ${what}: ${errorMessage(error)}. The deploy itself is not affected.`
    )
    return undefined
  }
}

/** A GitHub deployment per activation: in_progress, then success or failure, with the URLs. */
export class DeploymentRecord implements ActivationTracker {
  id: number | undefined

  constructor(
    private readonly octokit: Octokit,
    private readonly repo: Repo,
    private readonly options: {
      environment: string
      environmentUrl: string | undefined
      logUrl: string
      rollback: boolean
    }
  ) {}

  async started(release: string, sha: string): Promise<void> {
    const { environment, rollback, logUrl } = this.options
    this.id = await safely('create the GitHub deployment', async () => {
      const id = await createDeployment(this.octokit, this.repo, {
        sha,
        environment,
        release,
        description: rollback ? `Roll back to ${release}` : `Activate ${release}`,
        rollback
      })
      await setDeploymentStatus(this.octokit, this.repo, id, {
        state: 'in_progress',
        logUrl,
        description: `Switching to ${release}`
      })
      return id
    })
  }

  async finished(ok: boolean, detail: string): Promise<void> {
    const id = this.id
    if (id === undefined) return
    await safely('update the GitHub deployment', () =>
      setDeploymentStatus(this.octokit, this.repo, id, {
        state: ok ? 'success' : 'failure',
        logUrl: this.options.logUrl,
        description: detail,
        ...(this.options.environmentUrl === undefined
          ? {}
          : { environmentUrl: this.options.environmentUrl })
      })
    )
  }
}

/** The pull request this run is about: the event's own, or the one that merged the pushed commit. */
async function pullNumber(octokit: Octokit, context: RunContext): Promise<number | undefined> {
  const { payload } = context
  if (typeof payload.number === 'number') return payload.number
  const issue = payload.issue as { number?: unknown; pull_request?: unknown } | undefined
  if (typeof issue?.number === 'number' && issue.pull_request) return issue.number
  if (context.eventName !== 'push' || context.sha === '') return undefined
  return (
    await safely('find the pull request of the commit', () =>
      findPullForCommit(octokit, context, context.sha)
    )
  )?.number
}

export async function deliveryMetrics(
  octokit: Octokit,
  repo: Repo,
  environment: string
): Promise<DoraResult | undefined> {
  return safely('read the deployment history for delivery metrics', async () => {
    const now = new Date()
    return computeDora(await fetchDeploymentHistory(octokit, repo, environment, now), now)
  })
}

/** Writes or updates the sticky comment; returns its URL. */
export async function commentOnPullRequest(
  octokit: Octokit,
  context: RunContext,
  report: RunReport
): Promise<string | undefined> {
  const number = await pullNumber(octokit, context)
  if (number === undefined) {
    core.info('No pull request for this run: the report is in the job summary only.')
    return undefined
  }
  const comment = await safely(`comment on #${number}`, () =>
    upsertStickyComment(octokit, context, number, report.environment, renderReport(report))
  )
  return comment?.url
}

export async function writeJobSummary(report: RunReport): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  await safely('write the job summary', () =>
    core.summary.addRaw(renderReport(report, { marker: false }), true).write()
  )
}
