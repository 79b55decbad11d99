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
import { findSticky, writeSticky, type StickyLookup, type StickyTarget } from './comments.js'
import { readDeploymentHistory, type HistoryEntry, type OwnOutcome } from './deployment-history.js'
import {
  createDeployment,
  setDeploymentStatus,
  type DeploymentStatusUpdate
} from './deployments.js'
import type { RunLookups } from './lookups.js'

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
 *
 * Off the critical path (issue 14): `begin` creates the deployment in the background while the
 * deploy connects and stages; `started` (just before the switch) only waits for that creation,
 * so the deployment exists before `current` moves; the statuses go out in order behind it and
 * `finished` does not wait for its own: `settled()` does, when the run reports.
 */
export class DeploymentRecord {
  private creating: Promise<number | undefined> | undefined
  private writes: Promise<void> = Promise.resolve()
  private activation: number | undefined
  private final: { readonly state: string; readonly at: string } | undefined
  private sha = ''

  constructor(
    private readonly octokit: Octokit,
    private readonly repo: Repo,
    private readonly options: DeploymentRecordOptions
  ) {}

  /** The deployment's id once its activation started (undefined before, or when not created). */
  get id(): number | undefined {
    return this.activation
  }

  /** Creates the deployment and its in_progress status now, in the background. Once only. */
  begin(release: string, sha: string): void {
    if (this.creating) return
    const { environment, rollback, logUrl } = this.options
    this.sha = sha
    this.creating = safely('create the GitHub deployment', () =>
      createDeployment(this.octokit, this.repo, {
        sha,
        environment,
        release,
        description: rollback ? `Roll back to ${release}` : `Activate ${release}`,
        rollback
      })
    )
    this.post({ state: 'in_progress', logUrl, description: `Switching to ${release}` })
  }

  /** The deployment created (or given up): its id, or undefined. Never rejects. */
  created(): Promise<number | undefined> {
    return this.creating ?? Promise.resolve(undefined)
  }

  /** Just before the switch: the deployment exists (begun now if `begin` was not called). */
  async started(release: string, sha: string): Promise<void> {
    this.begin(release, sha)
    this.activation = await this.created()
  }

  /** After the switch: the final status is sent behind the others; `settled()` waits for it. */
  finished(ok: boolean, detail: string): Promise<void> {
    const state = ok ? 'success' : 'failure'
    this.final = { state, at: new Date().toISOString() }
    this.post({
      state,
      logUrl: this.options.logUrl,
      description: detail,
      ...(this.options.environmentUrl === undefined
        ? {}
        : { environmentUrl: this.options.environmentUrl })
    })
    return Promise.resolve()
  }

  /**
   * The run stopped before the switch: a begun deployment never went live, so it is marked
   * `inactive` (not `failure`: nothing live failed, and the delivery metrics count no change).
   */
  abandon(reason: string): void {
    if (!this.creating || this.final || this.activation !== undefined) return
    this.final = { state: 'inactive', at: new Date().toISOString() }
    this.post({
      state: 'inactive',
      logUrl: this.options.logUrl,
      description: `Not activated: ${reason}`
    })
  }

  /** How this activation ended, for the delivery metrics read before it did. */
  outcome(): OwnOutcome | undefined {
    const id = this.activation
    if (id === undefined || !this.final || this.final.state === 'inactive') return undefined
    return { id, sha: this.sha, rollback: this.options.rollback, ...this.final }
  }

  /** Every status of this record sent (or given up). Never rejects. */
  settled(): Promise<void> {
    return this.writes
  }

  /** Sends a status once the deployment exists and the statuses before it were sent. */
  private post(update: DeploymentStatusUpdate): void {
    const creating = this.created()
    this.writes = this.writes.then(async () => {
      const id = await creating
      if (id === undefined) return
      await safely('update the GitHub deployment', () =>
        setDeploymentStatus(this.octokit, this.repo, id, update)
      )
    })
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
async function pullNumber(lookups: RunLookups, context: PullContext): Promise<number | undefined> {
  const { payload } = context
  if (typeof payload.number === 'number') return payload.number
  const issue = payload.issue
  if (typeof issue === 'object' && issue !== null && 'number' in issue && 'pull_request' in issue) {
    if (typeof issue.number === 'number' && issue.pull_request) return issue.number
  }
  if (context.eventName !== 'push' || context.sha === '') return undefined
  return (
    await safely('find the pull request of the commit', () => lookups.pullForCommit(context.sha))
  )?.number
}

/** Where the sticky comment goes and what is there: the look-ups made before writing it. */
interface CommentPlace {
  readonly target: StickyTarget
  /** Undefined when the look-up failed (its warning was given). */
  readonly found: StickyLookup | undefined
}

/**
 * The run's sticky pull-request comment. `prepare` makes the look-ups (which PR, who we are, our
 * comment there) in the background, e.g. while the deploy stages; `write` then costs only the
 * write itself. A failure is one warning, as for every reporting call.
 */
export class PullRequestComment {
  private place: Promise<CommentPlace | undefined> | undefined

  constructor(
    private readonly octokit: Octokit,
    private readonly repo: Repo,
    private readonly lookups: RunLookups,
    private readonly context: PullContext,
    private readonly marker: string
  ) {}

  /** Starts the look-ups (once). */
  prepare(): void {
    this.place ??= this.lookUp()
  }

  /** The pull request the comment goes to (undefined when there is none). */
  async pullRequest(): Promise<number | undefined> {
    this.prepare()
    return (await this.place)?.target.issueNumber
  }

  /** Writes or updates the sticky comment with `body`; returns its URL. */
  async write(body: string): Promise<string | undefined> {
    this.prepare()
    const place = await this.place
    if (!place) {
      core.info('No pull request for this run: the report is in the job summary only.')
      return undefined
    }
    const { target, found } = place
    if (!found) return undefined
    const sticky = await safely(`comment on #${target.issueNumber}`, () =>
      writeSticky(this.octokit, target, found, body)
    )
    return sticky?.url
  }

  private async lookUp(): Promise<CommentPlace | undefined> {
    // Who we are does not depend on which pull request: asked at the same time.
    const identity = this.lookups.tokenIdentity()
    identity.catch(() => undefined) // awaited by findSticky, or not needed
    const number = await pullNumber(this.lookups, this.context)
    if (number === undefined) return undefined
    const target: StickyTarget = { repo: this.repo, issueNumber: number, marker: this.marker }
    const found = await safely(`comment on #${number}`, () =>
      findSticky(this.octokit, target, identity)
    )
    return { target, found }
  }
}
