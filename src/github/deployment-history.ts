/**
 * An environment's deployment history for the delivery metrics, in at most `MAX_PAGES` GraphQL
 * requests whatever its length (issue 14: the REST way costs 1 + N + N requests for N
 * deployments, against a token limit of 1,000 an hour shared by every workflow of the repository).
 *
 * One query returns 100 deployments, newest first, each with its statuses (the first success and
 * the last final state both matter: GitHub marks a superseded success `inactive`, so
 * `latestStatus` alone would lose it) and its commit's date (the lead time), so no
 * `GET /commits/{sha}` is made at all.
 */
import { readPayload } from './deployments.js'
import type { Octokit, Repo } from './client.js'

/** Pages of 100 deployments read at most: 3 requests per run, 300 deployments. */
export const MAX_PAGES = 3
const PAGE_SIZE = 100
/** Statuses read per deployment; gated-deploy writes three (in_progress, final, inactive). */
const STATUSES_PER_DEPLOYMENT = 50
const DAY = 86_400_000

export const DEPLOYMENT_HISTORY_QUERY = `query DeploymentHistory($owner: String!, $name: String!, $environment: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    deployments(environments: [$environment], orderBy: {field: CREATED_AT, direction: DESC}, first: ${PAGE_SIZE}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId
        createdAt
        commitOid
        payload
        commit { committedDate }
        statuses(first: ${STATUSES_PER_DEPLOYMENT}) { nodes { state createdAt } }
      }
    }
  }
}`

export interface HistoryStatus {
  /** Lower case, as REST spells it: `success`, `failure`, `inactive`, … */
  readonly state: string
  readonly createdAt: string
}

/** One deployment as the delivery metrics read it (report/dora.ts `DeploymentFact`). */
export interface HistoryEntry {
  readonly id: number
  readonly sha: string
  readonly createdAt: string
  /** Oldest first. */
  readonly statuses: readonly HistoryStatus[]
  /** The deployed commit's date, when GitHub still has the commit. */
  readonly commitTime?: string
  /** The deployment went back to an earlier release (`payload.rollback`). */
  readonly rollback: boolean
}

interface Page {
  readonly entries: HistoryEntry[]
  readonly endCursor: string | undefined
}

// ---- the answer, checked at the trust boundary -------------------------------------------------

class ShapeError extends Error {
  override name = 'ShapeError'
}

function record(value: unknown, where: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShapeError(`GitHub's GraphQL answer has no object at ${where}`)
  }
  return Object.fromEntries(Object.entries(value))
}

function list(value: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`GitHub's GraphQL answer has no list at ${where}`)
  return value
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new ShapeError(`GitHub's GraphQL answer lacks ${where}`)
  return value
}

function status(value: unknown, where: string): HistoryStatus {
  const node = record(value, where)
  return {
    state: text(node['state'], `${where}.state`).toLowerCase(),
    createdAt: text(node['createdAt'], `${where}.createdAt`)
  }
}

function entry(value: unknown, where: string): HistoryEntry | undefined {
  const node = record(value, where)
  const id = node['databaseId']
  if (typeof id !== 'number') return undefined
  const statusNodes = list(record(node['statuses'], `${where}.statuses`)['nodes'], where)
  const statuses = statusNodes
    .map((s, i) => status(s, `${where}.statuses.nodes[${i}]`))
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))
  const commit = node['commit']
  const committed =
    typeof commit === 'object' && commit !== null ? record(commit, where)['committedDate'] : null
  return {
    id,
    sha: text(node['commitOid'], `${where}.commitOid`),
    createdAt: text(node['createdAt'], `${where}.createdAt`),
    statuses,
    ...(typeof committed === 'string' ? { commitTime: committed } : {}),
    rollback: readPayload(node['payload']).rollback ?? false
  }
}

function page(answer: unknown): Page {
  const repository = record(answer, 'data')['repository']
  if (repository === null) throw new ShapeError('GitHub says the repository does not exist')
  const deployments = record(record(repository, 'repository')['deployments'], 'deployments')
  const info = record(deployments['pageInfo'], 'pageInfo')
  const nodes = list(deployments['nodes'], 'deployments.nodes')
  const cursor = info['endCursor']
  return {
    entries: nodes.flatMap((n, i) => entry(n, `deployments.nodes[${i}]`) ?? []),
    endCursor: info['hasNextPage'] === true && typeof cursor === 'string' ? cursor : undefined
  }
}

/**
 * The environment's deployments, newest first, until one older than `windowDays` days before
 * `now`, the end of the history, or `MAX_PAGES` pages. Errors are thrown: the caller reports
 * without delivery metrics.
 */
export async function readDeploymentHistory(
  octokit: Octokit,
  repo: Repo,
  environment: string,
  options: { readonly now: Date; readonly windowDays: number }
): Promise<HistoryEntry[]> {
  const start = options.now.getTime() - options.windowDays * DAY
  const entries: HistoryEntry[] = []
  let after: string | undefined
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const answer: unknown = await octokit.graphql(DEPLOYMENT_HISTORY_QUERY, {
      owner: repo.owner,
      name: repo.repo,
      environment,
      after: after ?? null
    })
    const { entries: found, endCursor } = page(answer)
    entries.push(...found)
    after = endCursor
    if (after === undefined || found.some(d => Date.parse(d.createdAt) < start)) break
  }
  return entries
}

/** How this run's own deployment ended, known before GitHub's history shows it. */
export interface OwnOutcome {
  readonly id: number
  readonly sha: string
  readonly rollback: boolean
  /** `success` or `failure`. */
  readonly state: string
  /** ISO time the final status was sent. */
  readonly at: string
}

const FINAL = new Set(['success', 'failure', 'error'])

/**
 * The history with this run's own deployments ended as they did. The history is read while the
 * deploy runs (issue 14: off the critical path), so it shows the run's deployment created but
 * not yet final; its final status is added here. One the history lacks altogether is added
 * (without its commit's date).
 */
export function withOwnOutcomes(
  history: readonly HistoryEntry[],
  own: readonly OwnOutcome[]
): HistoryEntry[] {
  const result = [...history]
  for (const outcome of own) {
    const final: HistoryStatus = { state: outcome.state, createdAt: outcome.at }
    const index = result.findIndex(entry => entry.id === outcome.id)
    const entry = result[index]
    if (!entry) {
      result.unshift({
        id: outcome.id,
        sha: outcome.sha,
        createdAt: outcome.at,
        statuses: [final],
        rollback: outcome.rollback
      })
    } else if (!entry.statuses.some(s => FINAL.has(s.state))) {
      // GitHub's clock, in whole seconds, may run ahead of ours: the final status comes last.
      const times = [entry.createdAt, ...entry.statuses.map(s => s.createdAt)].map(t =>
        Date.parse(t)
      )
      const at = Math.max(Date.parse(outcome.at), ...times.filter(t => !Number.isNaN(t)))
      const last: HistoryStatus = { ...final, createdAt: new Date(at).toISOString() }
      result[index] = { ...entry, statuses: [...entry.statuses, last] }
    }
  }
  return result
}
