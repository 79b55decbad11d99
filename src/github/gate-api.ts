/** The GitHub calls the delivery gate makes, as domain verbs over the one octokit client. */
import type { Octokit, Repo } from './client.js'

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
}

export type Reaction = 'eyes' | 'rocket' | 'confused'

/** What the gate needs of GitHub; a test fake implements five methods, not octokit. */
export interface GateApi {
  permission(login: string): Promise<string>
  pull(number: number): Promise<PullInfo>
  react(commentId: number, reaction: Reaction): Promise<void>
  comment(issueNumber: number, body: string): Promise<void>
  commentsSince(issueNumber: number, since: string): Promise<IssueComment[]>
  openIssue(title: string, body: string, assignees: readonly string[]): Promise<number>
  /** The open pull request whose head is `sha`, if any. */
  pullForCommit(sha: string): Promise<number | undefined>
}

export function gateApi(octokit: Octokit, repo: Repo): GateApi {
  return {
    async permission(login) {
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
        ...repo,
        username: login
      })
      // role_name tells maintain apart from write; permission folds it into write.
      return data.role_name || data.permission
    },
    async pull(number) {
      const { data } = await octokit.rest.pulls.get({ ...repo, pull_number: number })
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
        ...repo,
        comment_id: commentId,
        content: reaction
      })
    },
    async comment(issueNumber, body) {
      await octokit.rest.issues.createComment({ ...repo, issue_number: issueNumber, body })
    },
    async commentsSince(issueNumber, since) {
      const comments = await octokit.paginate(octokit.rest.issues.listComments, {
        ...repo,
        issue_number: issueNumber,
        since,
        per_page: 100
      })
      return comments.map(c => ({
        id: c.id,
        body: c.body ?? '',
        login: c.user?.login ?? '',
        userType: c.user?.type ?? '',
        createdAt: c.created_at
      }))
    },
    async pullForCommit(sha) {
      const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
        ...repo,
        commit_sha: sha
      })
      return (
        data.find(pr => pr.state === 'open' && pr.head.sha === sha) ??
        data.find(pr => pr.state === 'open')
      )?.number
    },
    async openIssue(title, body, assignees) {
      const { data } = await octokit.rest.issues.create({
        ...repo,
        title,
        body,
        assignees: [...assignees]
      })
      return data.number
    }
  }
}
