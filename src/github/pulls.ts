/**
 * The pull request of a commit: the one rule used by the report (which PR to comment on) and by
 * the gate (where to ask for approval when the event names no PR).
 *
 * 1. An open pull request whose head is the commit (newest first): the commit is that PR's
 *    current code, so a comment or an approval there is about this commit.
 * 2. Else the pull request that merged the commit: its merge commit is the sha (merge, squash or
 *    rebase merge), or it was merged with the commit as its head (fast-forward). This is the
 *    `push` after a merge.
 * 3. Else none. A PR that merely contains the commit among others, or an open PR whose head has
 *    moved on, is not "the" PR of the commit: an approval there would be for other code.
 */
import { httpStatus, type Octokit, type Repo } from './client.js'

export interface PullOfCommit {
  readonly number: number
  readonly url: string
  /** Open with the commit as head, or merged with it. */
  readonly relation: 'open-head' | 'merged'
}

/** What the rule reads of each pull request GitHub associates with the commit. */
export interface AssociatedPull {
  readonly number: number
  readonly html_url: string
  readonly state: string
  readonly merged_at: string | null
  readonly merge_commit_sha: string | null
  readonly head: { readonly sha: string }
}

/** The rule above over GitHub's list; pure, so it is tested without a server. */
export function choosePull(
  pulls: readonly AssociatedPull[],
  sha: string
): PullOfCommit | undefined {
  const same = (other: string | null): boolean => other?.toLowerCase() === sha.toLowerCase()
  const newestFirst = [...pulls].sort((a, b) => b.number - a.number)
  const open = newestFirst.find(p => p.state === 'open' && same(p.head.sha))
  if (open) return { number: open.number, url: open.html_url, relation: 'open-head' }
  const merged = newestFirst.find(
    p => p.merged_at !== null && (same(p.merge_commit_sha) || same(p.head.sha))
  )
  return merged ? { number: merged.number, url: merged.html_url, relation: 'merged' } : undefined
}

/** The pull request of `sha` by the rule above; undefined when none (or GitHub has no commit). */
export async function pullForCommit(
  octokit: Octokit,
  repo: Repo,
  sha: string
): Promise<PullOfCommit | undefined> {
  try {
    const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      owner: repo.owner,
      repo: repo.repo,
      commit_sha: sha,
      per_page: 100
    })
    return choosePull(data, sha)
  } catch (error: unknown) {
    const status = httpStatus(error)
    if (status === 404 || status === 422) return undefined
    throw error
  }
}
