/**
 * The sticky PR comment (DESIGN.md §6): one per environment, found by its hidden marker *and* by
 * the token's own identity, so a comment anyone else wrote with the marker is never edited.
 *
 * Two runs at once: both may see no comment and both create one. After creating, the list is
 * read again; when two or more of ours carry the marker, the oldest is kept, the newer ones are
 * deleted (a 404 means the other run deleted it first) and, when the kept one is not the one just
 * created, it is edited to this run's body. Either way one comment remains.
 *
 * The look-ups (`findSticky`) and the write (`writeSticky`) are apart so that a deploy can make
 * the look-ups while it stages and only the write after it switched.
 *
 * The marker (the report's `stickyMarker(environment)`) is passed in: this module knows GitHub,
 * not the report's format.
 */
import { httpStatus, type Octokit, type Repo } from './client.js'

/** Who a GITHUB_TOKEN acts as; `GET /user` is refused to it. */
export const ACTIONS_BOT_LOGIN = 'github-actions[bot]'

export interface StickyComment {
  readonly id: number
  readonly url: string
  /** A new comment was created (false: an existing one was edited). */
  readonly created: boolean
}

export interface CommentLike {
  readonly id: number
  readonly html_url: string
  readonly body?: string | undefined
  readonly user: { readonly login: string } | null
}

/** The login the token acts as: `GET /user`, or github-actions[bot] when that is refused. */
export async function tokenIdentity(octokit: Octokit): Promise<string> {
  try {
    const { data } = await octokit.rest.users.getAuthenticated()
    return data.login
  } catch (error: unknown) {
    const status = httpStatus(error)
    if (status === 403 || status === 404) return ACTIONS_BOT_LOGIN
    throw error
  }
}

function isOurs(comment: CommentLike, identity: string, marker: string): boolean {
  return (
    comment.user?.login.toLowerCase() === identity.toLowerCase() &&
    (comment.body ?? '').trimStart().startsWith(marker)
  )
}

/** The comments on the issue that carry the marker, whoever wrote them, oldest first. */
async function listMarked(
  octokit: Octokit,
  repo: Repo,
  issueNumber: number,
  marker: string
): Promise<CommentLike[]> {
  const marked: CommentLike[] = []
  const iterator = octokit.paginate.iterator(octokit.rest.issues.listComments, {
    owner: repo.owner,
    repo: repo.repo,
    issue_number: issueNumber,
    per_page: 100
  })
  for await (const { data } of iterator) {
    marked.push(...data.filter(comment => (comment.body ?? '').trimStart().startsWith(marker)))
  }
  return marked.sort((a, b) => a.id - b.id)
}

/** Our marked comments on the issue, oldest first, over every page. */
async function listOurs(
  octokit: Octokit,
  repo: Repo,
  issueNumber: number,
  identity: string,
  marker: string
): Promise<CommentLike[]> {
  const marked = await listMarked(octokit, repo, issueNumber, marker)
  return marked.filter(comment => isOurs(comment, identity, marker))
}

async function deleteIfPresent(octokit: Octokit, repo: Repo, commentId: number): Promise<void> {
  try {
    await octokit.rest.issues.deleteComment({
      owner: repo.owner,
      repo: repo.repo,
      comment_id: commentId
    })
  } catch (error: unknown) {
    if (httpStatus(error) !== 404) throw error
  }
}

async function edit(
  octokit: Octokit,
  repo: Repo,
  comment: CommentLike,
  body: string
): Promise<StickyComment> {
  const { data } = await octokit.rest.issues.updateComment({
    owner: repo.owner,
    repo: repo.repo,
    comment_id: comment.id,
    body
  })
  return { id: data.id, url: data.html_url, created: false }
}

/** Keeps the oldest of ours, deletes the rest, and makes sure the kept one has `body`. */
async function settle(
  octokit: Octokit,
  repo: Repo,
  ours: readonly CommentLike[],
  mine: CommentLike,
  body: string
): Promise<StickyComment> {
  const [oldest, ...newer] = ours
  for (const extra of newer) await deleteIfPresent(octokit, repo, extra.id)
  if (!oldest || oldest.id === mine.id) return { id: mine.id, url: mine.html_url, created: true }
  return edit(octokit, repo, oldest, body)
}

export interface StickyTarget {
  readonly repo: Repo
  readonly issueNumber: number
  /** The hidden marker that tells this comment apart, e.g. `<!-- gated-deploy:production -->`. */
  readonly marker: string
}

/** What a sticky comment is written from: who we are, and our marked comments, oldest first. */
export interface StickyLookup {
  readonly identity: string
  readonly ours: readonly CommentLike[]
}

/**
 * The look-ups before writing the sticky comment (the token's identity and the issue's comments,
 * read at the same time). They can be made ahead, while the deploy runs: `writeSticky` copes
 * with a comment another run created in between.
 */
export async function findSticky(
  octokit: Octokit,
  { repo, issueNumber, marker }: StickyTarget,
  identity: Promise<string> = tokenIdentity(octokit)
): Promise<StickyLookup> {
  const [who, marked] = await Promise.all([
    identity,
    listMarked(octokit, repo, issueNumber, marker)
  ])
  return { identity: who, ours: marked.filter(comment => isOurs(comment, who, marker)) }
}

/**
 * Edits the sticky comment found by `findSticky`, or creates it. `body` should start with the
 * marker (the rendered report does); it is added when missing.
 */
export async function writeSticky(
  octokit: Octokit,
  { repo, issueNumber, marker }: StickyTarget,
  found: StickyLookup,
  body: string
): Promise<StickyComment> {
  const text = body.startsWith(marker) ? body : `${marker}\n${body}`
  const [existing, ...extras] = found.ours
  if (existing) {
    for (const extra of extras) await deleteIfPresent(octokit, repo, extra.id)
    return edit(octokit, repo, existing, text)
  }
  const { data: mine } = await octokit.rest.issues.createComment({
    owner: repo.owner,
    repo: repo.repo,
    issue_number: issueNumber,
    body: text
  })
  // The new comment's author is the identity for certain, even when GET /user was refused.
  const author = mine.user?.login ?? found.identity
  const ours = await listOurs(octokit, repo, issueNumber, author, marker)
  return settle(octokit, repo, ours, mine, text)
}

/** Edits the sticky comment with `marker` on the issue or PR, or creates it. */
export async function upsertStickyComment(
  octokit: Octokit,
  target: StickyTarget,
  body: string
): Promise<StickyComment> {
  return writeSticky(octokit, target, await findSticky(octokit, target), body)
}
