/**
 * The look-ups of one run, each made once however many parts of the run ask (issue 14: one
 * look-up per commit per run): the pull request of a commit (the gate and the report both want
 * it) and the identity the token acts as. A failed look-up is not repeated either: every asker
 * gets the same error.
 */
import type { Octokit, Repo } from './client.js'
import { tokenIdentity } from './comments.js'
import { pullForCommit, type PullOfCommit } from './pulls.js'

export class RunLookups {
  private readonly pulls = new Map<string, Promise<PullOfCommit | undefined>>()
  private identity: Promise<string> | undefined

  constructor(
    private readonly octokit: Octokit,
    private readonly repo: Repo
  ) {}

  /** The pull request of `sha` (github/pulls.ts), asked of GitHub once per run. */
  pullForCommit(sha: string): Promise<PullOfCommit | undefined> {
    const key = sha.toLowerCase()
    let found = this.pulls.get(key)
    if (!found) {
      found = pullForCommit(this.octokit, this.repo, sha)
      this.pulls.set(key, found)
    }
    return found
  }

  /** The login the token acts as (github/comments.ts), asked of GitHub once per run. */
  tokenIdentity(): Promise<string> {
    this.identity ??= tokenIdentity(this.octokit)
    return this.identity
  }
}
