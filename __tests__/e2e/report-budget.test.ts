/**
 * Reporting within its budget, end to end through the bundle: delivery metrics from a seeded
 * history match figures worked out by hand, in one GraphQL request; an unreachable API costs one
 * warning and a few milliseconds, not a retry series.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { createServer } from 'node:net'
import { nextSha, sshInputs, workspaceWith } from '../rig/deploy.js'
import type { DeploymentState, GitHubStandIn } from '../rig/github-standin.js'
import { examplePayload } from '../rig/payloads.js'
import { runAction } from '../rig/runner.js'
import { useServers } from '../rig/servers.js'
import { makeTestDir, type Sshd } from '../rig/sshd.js'

const REPO = 'Codertocat/Hello-World'
const servers = useServers(REPO)
let sshd: Sshd
let github: GitHubStandIn
beforeAll(() => {
  ;({ sshd, github } = servers)
})

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

interface Seeded {
  /** Hours after the first deployment, 30 days before the run. */
  readonly created: number
  /** Minutes after `created`. */
  readonly statuses: readonly (readonly [DeploymentState, number])[]
  /** Hours after the first deployment; none for a rollback. */
  readonly commit?: number
  readonly rollback?: boolean
}

/**
 * Twelve deployments over 30 days, worked out by hand with the run's own deployment (D13, its
 * commit an hour old) added:
 * - changes: D1–D5, D7–D13 (12; R6 is a rollback, not a change); failed: D3 (failure), D5 (rolled
 *   back by R6), D8 (error): 3 of 12 = 25 %;
 * - live: the 10 changes that got a success; window 30 days: 10 / (30 / 7) = 2.3 a week;
 * - lead times (live at created + 6 min): D1 126, D2 66, D4 66, D5 126, D7 246, D9 66, D10 66,
 *   D11 126, D12 66, D13 ~60 min: median of 10 = 66 min (1 h 6 min);
 * - restores: D3 failed at 96 h 10 → D4 live 100 h 06 = 236 min; D5 live 200 h 06 → R6 live
 *   205 h 06 = 300 min; D8 failed 400 h 05 → D9 live 402 h 06 = 121 min: median 236 min.
 */
const HISTORY: readonly Seeded[] = [
  {
    created: 0,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: -2
  },
  {
    created: 48,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 47
  },
  {
    created: 96,
    statuses: [
      ['in_progress', 0],
      ['failure', 10]
    ],
    commit: 93
  },
  {
    created: 100,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 99
  },
  {
    created: 200,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 198
  },
  {
    created: 205,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    rollback: true
  },
  {
    created: 300,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 296
  },
  {
    created: 400,
    statuses: [
      ['in_progress', 0],
      ['error', 5]
    ],
    commit: 398
  },
  {
    created: 402,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 401
  },
  {
    created: 500,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 499
  },
  {
    created: 600,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 598
  },
  {
    created: 700,
    statuses: [
      ['in_progress', 0],
      ['success', 6]
    ],
    commit: 699
  }
]

function seed(first: number): void {
  const at = (ms: number): string => new Date(ms).toISOString()
  HISTORY.forEach((d, index) => {
    const sha = nextSha()
    const created = first + d.created * HOUR
    if (d.commit !== undefined) github.state.addCommit(sha, at(first + d.commit * HOUR))
    const deployment = github.state.addDeployment({
      ref: sha,
      environment: 'production',
      payload: { release: `r${index + 1}`, rollback: d.rollback ?? false },
      createdAt: at(created)
    })
    for (const [state, minutes] of d.statuses) {
      github.state.addDeploymentStatus({
        deploymentId: deployment.id,
        state,
        createdAt: at(created + minutes * MIN)
      })
    }
  })
}

/** A 127.0.0.1 port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

describe('delivery metrics end to end', () => {
  it('puts the hand-computed DORA figures of a 30-day history in the job summary, in one request', async () => {
    seed(Date.now() - 30 * DAY)
    const sha = nextSha()
    github.state.addCommit(sha, new Date(Date.now() - HOUR).toISOString())
    const remote = await makeTestDir()

    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'live' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: { 'github-token': 'ghs_report', ...sshInputs(sshd, remote), mode: 'deployment' },
      env: { GITHUB_SHA: sha, GITHUB_API_URL: github.url }
    })

    expect(result.exitCode).toBe(0)
    expect(result.log).not.toContain('::warning::')
    expect(result.summary).toContain(
      '| Deployment frequency | 2.3 a week (10 deployments in 30 days) |'
    )
    expect(result.summary).toContain('| Lead time for changes | 1 h 6 min (median of 10) |')
    expect(result.summary).toContain('| Change failure rate | 25% (3 of 12 changes) |')
    expect(result.summary).toContain('| Time to restore | 3 h 56 min (median of 3) |')
    expect(github.requestsTo('graphql')).toHaveLength(1)
    expect(github.requestsTo('repos/get-commit')).toEqual([])
    expect(github.unhandled).toEqual([])
  })
})

describe('an unreachable GitHub API', () => {
  it('costs one warning and no retries: the deploy succeeds well within 10 s', async () => {
    const remote = await makeTestDir()
    const api = `http://127.0.0.1:${await closedPort()}`
    const started = Date.now()

    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'live' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: { 'github-token': 'ghs_report', ...sshInputs(sshd, remote), mode: 'deployment' },
      env: { GITHUB_SHA: nextSha(), GITHUB_API_URL: api }
    })
    const elapsed = Date.now() - started

    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('deployed')
    const warnings = result.log.split('\n').filter(line => line.startsWith('::warning'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`GitHub API at ${api} cannot be reached (ECONNREFUSED`)
    expect(warnings[0]).toContain('nothing more is reported to GitHub in this run')
    expect(result.summary).toContain('Deployed')
    // Before: ~45 s of retries. The deploy over loopback SSH takes about a second.
    expect(elapsed).toBeLessThan(10_000)
  })
})
