/**
 * The four DORA keys for one environment, from its GitHub deployments:
 * - deployment frequency: changes that went live, per week of the window;
 * - lead time for changes: median commit time → first `success` status;
 * - change failure rate: failed changes / finished changes, where a change failed when its last
 *   status (other than `inactive`) is `failure` or `error`, or when a rollback deployment
 *   (`payload.rollback`) undid it;
 * - time to restore: median time from a failure (its failure status, or the moment a
 *   rolled-back change went live) to the next successful deployment.
 * Rollback deployments are not changes: they end incidents. The window is 90 days, or from the
 * first deployment when the history is younger (never less than a week).
 */
import type { Octokit, Repo } from '../github/client.js'
import { httpStatus } from '../github/client.js'
import { readPayload } from '../github/deployments.js'
import type { DoraResult } from './model.js'

export const DORA_WINDOW_DAYS = 90
const DAY = 86_400_000
const WEEK = 7 * DAY
/** Fewer finished changes than this and the figures would mean nothing. */
const MIN_FINISHED = 2

export interface StatusFact {
  readonly state: string
  readonly createdAt: string
}

export interface DeploymentFact {
  readonly id: number
  readonly sha: string
  readonly createdAt: string
  /** Oldest first. */
  readonly statuses: readonly StatusFact[]
  /** When the deployed commit was committed, if known. */
  readonly commitTime?: string
  /** The deployment went back to an earlier release. */
  readonly rollback?: boolean
}

interface Judged {
  readonly fact: DeploymentFact
  readonly created: number
  /** First `success` status. */
  readonly liveAt: number | undefined
  readonly final: 'success' | 'failure' | 'pending'
  readonly finalAt: number
}

function judge(fact: DeploymentFact): Judged {
  const statuses = fact.statuses
    .map(s => ({ state: s.state, at: Date.parse(s.createdAt) }))
    .sort((a, b) => a.at - b.at)
  const liveAt = statuses.find(s => s.state === 'success')?.at
  const last = statuses.filter(s => s.state !== 'inactive').pop()
  const final =
    last?.state === 'success'
      ? 'success'
      : last?.state === 'failure' || last?.state === 'error'
        ? 'failure'
        : 'pending'
  return { fact, created: Date.parse(fact.createdAt), liveAt, final, finalAt: last?.at ?? NaN }
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const upper = sorted[middle] ?? 0
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? 0) + upper) / 2
}

/** Walks deployments in time order: which changes failed, and how long each restore took. */
function incidents(deployments: readonly Judged[]): { failed: Set<Judged>; restores: number[] } {
  const failed = new Set<Judged>()
  const restores: number[] = []
  let openSince: number | undefined
  let lastLive: Judged | undefined
  for (const d of deployments) {
    if (d.final === 'failure') {
      if (!d.fact.rollback) failed.add(d)
      openSince ??= d.finalAt
      continue
    }
    if (d.final !== 'success' || d.liveAt === undefined) continue
    if (d.fact.rollback && openSince === undefined && lastLive?.liveAt !== undefined) {
      failed.add(lastLive)
      openSince = lastLive.liveAt
    }
    if (openSince !== undefined) restores.push(Math.max(0, d.liveAt - openSince))
    openSince = undefined
    lastLive = d.fact.rollback ? undefined : d
  }
  return { failed, restores }
}

function leadTimes(changes: readonly Judged[]): number[] {
  return changes.flatMap(d => {
    const committed = d.fact.commitTime === undefined ? NaN : Date.parse(d.fact.commitTime)
    return d.liveAt === undefined || Number.isNaN(committed)
      ? []
      : [Math.max(0, d.liveAt - committed)]
  })
}

/**
 * DORA figures from a deployment history (any order; deployments older than the window only
 * tell that the history goes back further). `now` ends the window.
 */
export function computeDora(
  deployments: readonly DeploymentFact[],
  now: Date,
  windowDays: number = DORA_WINDOW_DAYS
): DoraResult {
  const end = now.getTime()
  const start = end - windowDays * DAY
  const all = deployments.map(judge).sort((a, b) => a.created - b.created || a.fact.id - b.fact.id)
  const inWindow = all.filter(d => d.created >= start && d.created <= end)
  const changes = inWindow.filter(d => !d.fact.rollback && d.final !== 'pending')
  if (changes.length < MIN_FINISHED) {
    const count =
      changes.length === 1 ? '1 finished deployment' : `${changes.length} finished deployments`
    return {
      insufficient: `${count} in the last ${windowDays} days; the figures need at least ${MIN_FINISHED}.`
    }
  }
  const hasOlder = all.some(d => d.created < start)
  const first = inWindow[0]?.created ?? start
  const windowMs = hasOlder ? windowDays * DAY : Math.max(WEEK, end - first)
  const { failed, restores } = incidents(inWindow)
  const live = changes.filter(d => d.liveAt !== undefined).length
  const leads = leadTimes(changes)
  return {
    windowDays: Math.round(windowMs / DAY),
    deployments: live,
    deploymentsPerWeek: live / (windowMs / WEEK),
    leadTimeMs: median(leads),
    leadTimeSamples: leads.length,
    changeFailureRate: failed.size / changes.length,
    failedChanges: failed.size,
    finishedChanges: changes.length,
    timeToRestoreMs: median(restores),
    restoreSamples: restores.length
  }
}

// ---- reading the history from GitHub ----------------------------------------------------------

export interface HistoryOptions {
  readonly windowDays?: number
  /** Pages of 100 deployments read at most (default 3). */
  readonly maxPages?: number
  /** Commits looked up for their time at most (default 50). */
  readonly maxCommits?: number
}

const CONCURRENCY = 4

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = []
  for (let i = 0; i < items.length; i += limit) {
    results.push(...(await Promise.all(items.slice(i, i + limit).map(fn))))
  }
  return results
}

interface Listed {
  readonly id: number
  readonly sha: string
  readonly createdAt: string
  readonly rollback: boolean
}

/** Newest first, until a page reaches past `start` or `maxPages` pages were read. */
async function listDeployments(
  octokit: Octokit,
  repo: Repo,
  environment: string,
  start: number,
  maxPages: number
): Promise<Listed[]> {
  const listed: Listed[] = []
  let pages = 0
  const iterator = octokit.paginate.iterator(octokit.rest.repos.listDeployments, {
    ...repo,
    environment,
    per_page: 100
  })
  for await (const { data } of iterator) {
    pages++
    for (const d of data) {
      const rollback = readPayload(d.payload).rollback ?? false
      listed.push({ id: d.id, sha: d.sha, createdAt: d.created_at, rollback })
    }
    if (pages >= maxPages || data.some(d => Date.parse(d.created_at) < start)) break
  }
  return listed
}

async function statusesOf(octokit: Octokit, repo: Repo, id: number): Promise<StatusFact[]> {
  const { data } = await octokit.rest.repos.listDeploymentStatuses({
    ...repo,
    deployment_id: id,
    per_page: 100
  })
  return [...data]
    .sort((a, b) => a.id - b.id)
    .map(s => ({ state: s.state, createdAt: s.created_at }))
}

/** The commit's committer date; undefined when GitHub no longer has the commit. */
async function commitTime(octokit: Octokit, repo: Repo, sha: string): Promise<string | undefined> {
  try {
    const { data } = await octokit.rest.repos.getCommit({ ...repo, ref: sha, per_page: 1 })
    return data.commit.committer?.date ?? data.commit.author?.date ?? undefined
  } catch (error: unknown) {
    const status = httpStatus(error)
    if (status === 404 || status === 422 || status === 409) return undefined
    throw error
  }
}

/**
 * The environment's deployments of the last `windowDays` days with their statuses, and commit
 * times for those that went live (one lookup per sha, at most `maxCommits`). Deployments from
 * the last page that are older than the window come back without statuses. API errors are
 * thrown: DORA is optional, so the caller logs a warning and reports without it.
 */
export async function fetchDeploymentHistory(
  octokit: Octokit,
  repo: Repo,
  environment: string,
  now: Date,
  options: HistoryOptions = {}
): Promise<DeploymentFact[]> {
  const start = now.getTime() - (options.windowDays ?? DORA_WINDOW_DAYS) * DAY
  const listed = await listDeployments(octokit, repo, environment, start, options.maxPages ?? 3)
  const recent = listed.filter(d => Date.parse(d.createdAt) >= start)
  const older = listed.filter(d => Date.parse(d.createdAt) < start)
  const statuses = await mapLimited(recent, CONCURRENCY, d => statusesOf(octokit, repo, d.id))
  const withStatuses = recent.map((d, i) => ({ ...d, statuses: statuses[i] ?? [] }))
  const shas = [
    ...new Set(
      withStatuses
        .filter(d => !d.rollback && d.statuses.some(s => s.state === 'success'))
        .map(d => d.sha)
    )
  ].slice(0, options.maxCommits ?? 50)
  const times = await mapLimited(shas, CONCURRENCY, sha => commitTime(octokit, repo, sha))
  const timeOf = new Map(shas.map((sha, i) => [sha, times[i]]))
  return [
    ...withStatuses.map(d => {
      const time = timeOf.get(d.sha)
      return time === undefined ? d : { ...d, commitTime: time }
    }),
    ...older.map(d => ({ ...d, statuses: [] }))
  ]
}
