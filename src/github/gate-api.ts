/** The GitHub calls the delivery gate makes, as domain verbs over the one octokit client. */
import type { Octokit, Repo } from './client.js'
import { RunLookups } from './lookups.js'

export interface PullInfo {
  readonly number: number
  readonly state: string
  readonly headSha: string
  readonly author: string
  readonly fromFork: boolean
}

export interface IssueComment {
  readonly id: number
  readonly body: string
  readonly login: string
  readonly userType: string
  readonly createdAt: string
  /** Differs from `createdAt` when the comment was edited after it was written. */
  readonly updatedAt: string
}

export type Reaction = 'eyes' | 'rocket' | 'confused'

/** What the gate needs of GitHub; a test fake implements these seven methods, not octokit. */
export interface GateApi {
  permission(login: string): Promise<string>
  pull(number: number): Promise<PullInfo>
  react(commentId: number, reaction: Reaction): Promise<void>
  comment(issueNumber: number, body: string): Promise<void>
  commentsSince(issueNumber: number, since: string): Promise<IssueComment[]>
  openIssue(title: string, body: string, assignees: readonly string[]): Promise<number>
  /** The pull request of `sha` (github/pulls.ts: an open PR with it as head, else the one that merged it). */
  pullForCommit(sha: string): Promise<number | undefined>
}

/** The gate's verbs; `lookups` are the run's (shared with the report, so a commit is looked up once). */
export function gateApi(
  octokit: Octokit,
  repo: Repo,
  lookups: RunLookups = new RunLookups(octokit, repo)
): GateApi {
  return {
    async permission(login) {
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
        owner: repo.owner,
        repo: repo.repo,
        username: login
      })
      // role_name tells maintain apart from write; permission folds it into write.
      return data.role_name || data.permission
    },
    async pull(number) {
      const { data } = await octokit.rest.pulls.get({
        owner: repo.owner,
        repo: repo.repo,
        pull_number: number
      })
      return {
        number,
        state: data.state,
        headSha: data.head.sha,
        author: data.user.login,
        fromFork: data.head.repo?.full_name !== data.base.repo.full_name
      }
    },
    async react(commentId, reaction) {
      await octokit.rest.reactions.createForIssueComment({
        owner: repo.owner,
        repo: repo.repo,
        comment_id: commentId,
        content: reaction
      })
    },
    async comment(issueNumber, body) {
      await octokit.rest.issues.createComment({
        owner: repo.owner,
        repo: repo.repo,
        issue_number: issueNumber,
        body
      })
    },
    async commentsSince(issueNumber, since) {
      const comments = await octokit.paginate(octokit.rest.issues.listComments, {
        owner: repo.owner,
        repo: repo.repo,
        issue_number: issueNumber,
        since,
        per_page: 100
      })
      return comments.map(c => ({
        id: c.id,
        body: c.body ?? '',
        login: c.user?.login ?? '',
        userType: c.user?.type ?? '',
        createdAt: c.created_at,
        updatedAt: c.updated_at
      }))
    },
    async pullForCommit(sha) {
      return (await lookups.pullForCommit(sha))?.number
    },
    async openIssue(title, body, assignees) {
      const { data } = await octokit.rest.issues.create({
        owner: repo.owner,
        repo: repo.repo,
        title,
        body,
        assignees: [...assignees]
      })
      return data.number
    }
  }
}
