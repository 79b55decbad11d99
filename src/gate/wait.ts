/**
 * The in-run wait (`approval-timeout`): after staging, ask for approval on the pull request (or
 * an issue assigned to `approvers` when there is none) and poll, with backoff, for an approving
 * comment from someone allowed to approve.
 */
import * as core from '@actions/core'
import type { GateApi, IssueComment } from '../github/gate-api.js'
import { authorize, isApproval } from './authorize.js'

export interface WaitOptions {
  readonly issueNumber: number
  /** Only comments made at or after this instant count. */
  readonly since: Date
  readonly command: string
  readonly timeoutMs: number
  readonly approvers: readonly string[]
  readonly allowSelfApproval: boolean
  readonly author: string | undefined
  readonly sleep?: (ms: number) => Promise<void>
}

/**
 * A comment as the wait reads it. GitHub moves `updated_at` past `created_at` when a comment is
 * edited; an edited comment never counts, as with the `issue_comment` trigger (someone could
 * turn a harmless comment, or one written before a push, into an approval).
 */
type PolledComment = IssueComment

function wasEdited(comment: PolledComment): boolean {
  return comment.updatedAt !== comment.createdAt
}

const FIRST_POLL_MS = 2000
const MAX_POLL_MS = 30_000

/** Resolves with the approving comment, or undefined when the timeout passes first. */
export async function waitForApproval(
  api: GateApi,
  options: WaitOptions
): Promise<{ login: string; commentId: number } | undefined> {
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms)))
  const deadline = Date.now() + options.timeoutMs
  const judged = new Set<number>()
  let delay = FIRST_POLL_MS
  for (;;) {
    const comments: readonly PolledComment[] = await api.commentsSince(
      options.issueNumber,
      options.since.toISOString()
    )
    for (const comment of comments) {
      if (judged.has(comment.id) || Date.parse(comment.createdAt) < options.since.getTime())
        continue
      judged.add(comment.id)
      if (!isApproval(comment, options.command)) continue
      if (wasEdited(comment)) {
        core.info(
          `Ignored ${options.command} from ${comment.login}: an edited comment never counts; post a new comment.`
        )
        await api.react(comment.id, 'confused').catch(() => undefined)
        continue
      }
      const verdict = await authorize(api, {
        login: comment.login,
        approvers: options.approvers,
        prAuthor: options.author,
        allowSelfApproval: options.allowSelfApproval
      })
      if (verdict.ok) {
        await api.react(comment.id, 'eyes').catch(() => undefined)
        return { login: comment.login, commentId: comment.id }
      }
      core.info(`Ignored ${options.command} from ${comment.login}: ${verdict.reason}.`)
      await api.react(comment.id, 'confused').catch(() => undefined)
    }
    const left = deadline - Date.now()
    if (left <= 0) return undefined
    await sleep(Math.min(delay, left))
    delay = Math.min(delay * 2, MAX_POLL_MS)
  }
}
