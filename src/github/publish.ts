/**
 * Reporting to GitHub: the deployment record around an activation, the delivery-metrics history
 * and the sticky pull-request comment. Reporting never fails a run: an API error becomes one
 * warning line, and an unreachable API one warning for the whole run (client.ts).
 *
 * What is reported comes in rendered (the report's text and marker): this module knows GitHub,
 * not the report's format.
 */
import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { errorMessage } from '../errors.js'
import { isUnreachable, type Octokit, type Repo } from './client.js'
import { upsertStickyComment } from './comments.js'
import { readDeploymentHistory, type HistoryEntry } from './deployment-history.js'
import { createDeployment, setDeploymentStatus } from './deployments.js'
import { pullForCommit } from './pulls.js'

/** Runs a reporting call; a failure is a warning (none for an unreachable API: already said). */
async function safely<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (error: unknown) {
    if (isUnreachable(error)) return undefined
    core.warning(
      `Reporting: could not ${what}: ${errorMessage(error)}. The deploy itself is not affected.`
    )
    return undefined
  }
}

export interface DeploymentRecordOptions {
  readonly environment: string
  readonly environmentUrl: string | undefined
  readonly logUrl: string
  readonly rollback: boolean
}

/**
 * A GitHub deployment per activation: in_progress, then success or failure, with the URLs.
 * (Structurally an `ActivationTracker` of deploy/fleet.ts.)
 */
export class DeploymentRecord {
  id: number | undefined

  constructor(
    private readonly octokit: Octokit,
    private readonly repo: Repo,
    private readonly options: DeploymentRecordOptions
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

/** The environment's deployment history for the delivery metrics; undefined when unreadable. */
export async function deliveryHistory(
  octokit: Octokit,
  repo: Repo,
  environment: string,
  options: { readonly now: Date; readonly windowDays: number }
): Promise<HistoryEntry[] | undefined> {
  return safely('read the deployment history for delivery metrics', () =>
    readDeploymentHistory(octokit, repo, environment, options)
  )
}

/** What of the run decides which pull request the report goes to. */
export type PullContext = Pick<RunContext, 'eventName' | 'sha' | 'payload'>

/** The pull request this run is about: the event's own, or on `push` the PR of the commit. */
async function pullNumber(
  octokit: Octokit,
  repo: Repo,
  context: PullContext
): Promise<number | undefined> {
  const { payload } = context
  if (typeof payload.number === 'number') return payload.number
  const issue = payload.issue
  if (typeof issue === 'object' && issue !== null && 'number' in issue && 'pull_request' in issue) {
    if (typeof issue.number === 'number' && issue.pull_request) return issue.number
  }
  if (context.eventName !== 'push' || context.sha === '') return undefined
  return (
    await safely('find the pull request of the commit', () =>
      pullForCommit(octokit, repo, context.sha)
    )
  )?.number
}

/** The rendered report and the marker that finds its sticky comment again. */
export interface RenderedComment {
  readonly marker: string
  readonly body: string
}

/** Writes or updates the sticky comment; returns its URL. */
export async function commentOnPullRequest(
  octokit: Octokit,
  repo: Repo,
  context: PullContext,
  comment: RenderedComment
): Promise<string | undefined> {
  const number = await pullNumber(octokit, repo, context)
  if (number === undefined) {
    core.info('No pull request for this run: the report is in the job summary only.')
    return undefined
  }
  const sticky = await safely(`comment on #${number}`, () =>
    upsertStickyComment(
      octokit,
      { repo, issueNumber: number, marker: comment.marker },
      comment.body
    )
  )
  return sticky?.url
}
