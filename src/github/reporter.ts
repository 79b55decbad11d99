/**
 * The GitHub side of one run, off the deploy's critical path (issue 14). While the deploy
 * connects, locks and stages: the deployment is created, the delivery-metrics history read and
 * the sticky comment looked up. After the switch only what must follow it: the final deployment
 * status and the comment's write, at the same time (they are independent); nothing is spaced by
 * a fixed delay. A GitHub call that fails is one warning and never fails the deploy.
 */
import type { Octokit, Repo } from './client.js'
import { withOwnOutcomes, type HistoryEntry } from './deployment-history.js'
import { RunLookups } from './lookups.js'
import {
  deliveryHistory,
  DeploymentRecord,
  PullRequestComment,
  type PullContext
} from './publish.js'

export interface GitHubReporterOptions {
  readonly environment: string
  readonly environmentUrl: string | undefined
  /** The run's URL, the deployment statuses' `log_url`. */
  readonly logUrl: string
  /** `deployment-record`: a GitHub deployment per activation. */
  readonly deploymentRecord: boolean
  /** What of the run decides which pull request gets the comment. */
  readonly pull: PullContext
  /** The hidden marker of the sticky comment. */
  readonly marker: string
  /** Days of history the delivery metrics read. */
  readonly windowDays: number
}

export class GitHubReporter {
  /** The run's look-ups, shared with the gate: one per commit per run. */
  readonly lookups: RunLookups
  readonly comment: PullRequestComment
  private readonly records: DeploymentRecord[] = []
  private history: Promise<HistoryEntry[] | undefined> | undefined

  constructor(
    private readonly octokit: Octokit,
    private readonly repo: Repo,
    private readonly options: GitHubReporterOptions
  ) {
    this.lookups = new RunLookups(octokit, repo)
    this.comment = new PullRequestComment(octokit, repo, this.lookups, options.pull, options.marker)
  }

  /** A deployment record for the next activation; undefined with `deployment-record: false`. */
  tracker(rollback: boolean): DeploymentRecord | undefined {
    if (!this.options.deploymentRecord) return undefined
    const record = new DeploymentRecord(this.octokit, this.repo, {
      environment: this.options.environment,
      environmentUrl: this.options.environmentUrl,
      logUrl: this.options.logUrl,
      rollback
    })
    this.records.push(record)
    return record
  }

  /**
   * Starts in the background what the report will need: the comment's look-ups when `comment`,
   * the delivery-metrics history when the run is `activating` (after the deployments begun so
   * far exist, so that the history holds the run's own).
   */
  prepare(options: { readonly activating: boolean; readonly comment: boolean }): void {
    if (options.comment) this.comment.prepare()
    if (options.activating) void this.readHistory()
  }

  /**
   * The environment's history for the delivery metrics, with this run's own deployments ended
   * as they did; undefined when it could not be read (one warning).
   */
  async deliveryHistory(): Promise<HistoryEntry[] | undefined> {
    const history = await this.readHistory()
    const own = this.records.flatMap(r => r.outcome() ?? [])
    return history && withOwnOutcomes(history, own)
  }

  /** Every deployment status of the run sent (or given up). Never rejects. */
  async settled(): Promise<void> {
    await Promise.all(this.records.map(r => r.settled()))
  }

  private readHistory(): Promise<HistoryEntry[] | undefined> {
    this.history ??= (async () => {
      await Promise.all(this.records.map(r => r.created()))
      return deliveryHistory(this.octokit, this.repo, this.options.environment, {
        now: new Date(),
        windowDays: this.options.windowDays
      })
    })()
    return this.history
  }
}
