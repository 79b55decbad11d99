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
 *
 * Pure: the history is read from GitHub by github/deployment-history.ts and handed in.
 */
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
