/**
 * Reporting against the OpenAPI-checked GitHub stand-in: the sticky comment, the PR of a commit,
 * deployments and their statuses, and DORA figures read back from the deployments history.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { createServer, type Socket } from 'node:net'
import { fakeSha, startGitHubStandIn } from '../rig/github-standin.js'
import type { GitHubStandIn } from '../rig/github-standin.js'
import {
  createOctokit,
  isUnreachable,
  REQUEST_TIMEOUT_MS,
  repoOf,
  type Octokit
} from '../../src/github/client.js'
import * as comments from '../../src/github/comments.js'
import * as deployments from '../../src/github/deployments.js'
import { MAX_PAGES, readDeploymentHistory } from '../../src/github/deployment-history.js'
import { pullForCommit } from '../../src/github/pulls.js'
import * as dora from '../../src/report/dora.js'

const REPO = repoOf({ owner: 'octo-org', repo: 'octo-app' })
const FULL_NAME = 'octo-org/octo-app'
const SHA = fakeSha('head')
const RUN_URL = 'https://github.com/octo-org/octo-app/actions/runs/42'
const MARKER = '<!-- gated-deploy:production -->'
const MIN = 60_000

let github: GitHubStandIn
let octokit: Octokit

beforeAll(async () => {
  github = await startGitHubStandIn({ repository: FULL_NAME })
  const client = await import('../../src/github/client.js')
  const created = await client.createOctokit('ghs_reportTestToken', github.url)
  if (!created) throw new Error('createOctokit refused a real token')
  octokit = created
})

const sticky = (issueNumber: number, marker: string = MARKER) => ({
  repo: REPO,
  issueNumber,
  marker
})

afterEach(() => {
  github.reset()
})

afterAll(async () => {
  await github.close()
})

describe('upsertStickyComment', () => {
  it('edits the same comment on the second run instead of adding one', async () => {
    github.state.addPull({ number: 7, head: { sha: SHA } })

    const first = await comments.upsertStickyComment(octokit, sticky(7), `${MARKER}\nStaged`)
    const second = await comments.upsertStickyComment(octokit, sticky(7), `${MARKER}\nDeployed`)

    expect(first.created).toBe(true)
    expect(second).toEqual({ id: first.id, url: first.url, created: false })
    expect(github.state.commentsOn(7).map(c => [c.id, c.body])).toEqual([
      [first.id, `${MARKER}\nDeployed`]
    ])
    expect(first.url).toBe(`https://github.com/${FULL_NAME}/pull/7#issuecomment-${first.id}`)
    expect(github.requestsTo('issues/create-comment')).toHaveLength(1)
    expect(github.requestsTo('issues/update-comment')).toHaveLength(1)
    github.assertNoViolations()
  })

  it("never edits someone else's comment that carries the marker, nor another environment's", async () => {
    const forged = github.state.addComment({
      issueNumber: 7,
      user: 'mallory',
      body: `${MARKER}\nfake`
    })
    const staging = github.state.addComment({
      issueNumber: 7,
      body: '<!-- gated-deploy:staging -->\nStaging'
    })

    const result = await comments.upsertStickyComment(octokit, sticky(7), 'Deployed')

    expect(result.created).toBe(true)
    expect(github.state.comment(FULL_NAME, forged.id)?.body).toBe(`${MARKER}\nfake`)
    expect(github.state.comment(FULL_NAME, staging.id)?.body).toBe(
      '<!-- gated-deploy:staging -->\nStaging'
    )
    // The marker is added when the body lacks it.
    expect(github.state.comment(FULL_NAME, result.id)?.body).toBe(`${MARKER}\nDeployed`)
    expect(github.requestsTo('issues/update-comment')).toHaveLength(0)
    github.assertNoViolations()
  })

  it('takes github-actions[bot] as its identity when GET /user is refused to a GITHUB_TOKEN', async () => {
    const ours = github.state.addComment({ issueNumber: 9, body: `${MARKER}\nold` })
    github.respond('users/get-authenticated', { status: 403, times: 1 })

    const result = await comments.upsertStickyComment(octokit, sticky(9), `${MARKER}\nnew`)

    expect(github.requestsTo('users/get-authenticated').map(r => r.status)).toEqual([403])
    expect(result).toMatchObject({ id: ours.id, created: false })
    expect(github.state.comment(FULL_NAME, ours.id)?.body).toBe(`${MARKER}\nnew`)
    github.assertNoViolations()
  })

  it('leaves github-actions[bot] comments alone when the token is someone else', async () => {
    const bot = github.state.addComment({ issueNumber: 9, body: `${MARKER}\nbot` })
    github.state.setIdentity({ login: 'deploy-app[bot]', id: 4242, type: 'Bot' })

    const result = await comments.upsertStickyComment(octokit, sticky(9), `${MARKER}\napp`)

    expect(result.created).toBe(true)
    expect(github.state.comment(FULL_NAME, bot.id)?.body).toBe(`${MARKER}\nbot`)
    expect(github.state.comment(FULL_NAME, result.id)?.user.login).toBe('deploy-app[bot]')
    github.assertNoViolations()
  })

  it('pages through long threads to find its comment', async () => {
    const ours = github.state.addComment({ issueNumber: 11, body: `${MARKER}\nfirst` })
    for (let i = 0; i < 150; i++)
      github.state.addComment({ issueNumber: 11, user: 'alice', body: `${i}` })

    const result = await comments.upsertStickyComment(octokit, sticky(11), `${MARKER}\nagain`)

    expect(result).toMatchObject({ id: ours.id, created: false })
    expect(github.requestsTo('issues/list-comments').map(r => r.query['page'])).toEqual([
      undefined,
      '2'
    ])
    github.assertNoViolations()
  })

  it('keeps the oldest and deletes its own when another run created one at the same time', async () => {
    // The other run's comment appears between our look-up and our create.
    let concurrent = 0
    github.on(
      'issues/create-comment',
      ({ next, state }) => {
        concurrent = state.addComment({ issueNumber: 7, body: `${MARKER}\nother run` }).id
        return next()
      },
      { times: 1 }
    )

    const result = await comments.upsertStickyComment(octokit, sticky(7), `${MARKER}\nthis run`)

    const remaining = github.state.commentsOn(7)
    expect(remaining.map(c => [c.id, c.body])).toEqual([[concurrent, `${MARKER}\nthis run`]])
    expect(result).toMatchObject({ id: concurrent, created: false })
    // The one deleted is ours, created after the other run's.
    const deleted = github.requestsTo('issues/delete-comment')
    expect(deleted.map(r => r.status)).toEqual([204])
    expect(Number(deleted[0]?.params['comment_id'])).toBeGreaterThan(concurrent)
    github.assertNoViolations()
  })
})

describe('pullForCommit: the one rule for the pull request of a commit', () => {
  it('takes the open pull request whose head is the commit, even when a merged one merged it', async () => {
    github.state.addPull({ number: 20, head: { sha: SHA } })
    github.state.addPull({
      number: 12,
      head: { sha: fakeSha('feature') },
      state: 'closed',
      merged: true,
      mergeCommitSha: SHA
    })

    expect(await pullForCommit(octokit, REPO, SHA)).toEqual({
      number: 20,
      url: `https://github.com/${FULL_NAME}/pull/20`,
      relation: 'open-head'
    })
    github.assertNoViolations()
  })

  it('on a push after a merge, takes the pull request whose merge commit it is', async () => {
    github.state.addPull({
      number: 12,
      head: { sha: fakeSha('feature') },
      state: 'closed',
      merged: true,
      mergeCommitSha: SHA
    })

    expect(await pullForCommit(octokit, REPO, SHA)).toEqual({
      number: 12,
      url: `https://github.com/${FULL_NAME}/pull/12`,
      relation: 'merged'
    })
    github.assertNoViolations()
  })

  it('takes a pull request merged with the commit as its head (fast-forward)', async () => {
    github.state.addPull({ number: 14, head: { sha: SHA }, state: 'closed', merged: true })

    expect(await pullForCommit(octokit, REPO, SHA)).toMatchObject({
      number: 14,
      relation: 'merged'
    })
  })

  it('takes nothing for a closed unmerged pull request, or an unknown commit', async () => {
    github.state.addPull({ number: 15, head: { sha: SHA }, state: 'closed' })

    expect(await pullForCommit(octokit, REPO, SHA)).toBeUndefined()
    expect(await pullForCommit(octokit, REPO, fakeSha('nowhere'))).toBeUndefined()
    github.assertNoViolations()
  })

  it('asks GitHub with only the documented parameters', async () => {
    await pullForCommit(octokit, REPO, SHA)

    const [request] = github.requestsTo('repos/list-pull-requests-associated-with-commit')
    expect(request?.query).toEqual({ per_page: '100' })
    expect(request?.params).toEqual({ owner: 'octo-org', repo: 'octo-app', commit_sha: SHA })
    github.assertNoViolations()
  })
})

describe('deployments', () => {
  it('creates a deployment of the sha and records its statuses in order', async () => {
    const release = '20240630120000-' + SHA.slice(0, 12)
    const id = await deployments.createDeployment(octokit, REPO, {
      sha: SHA,
      environment: 'production',
      release,
      description: `Deploy ${release} `.repeat(20)
    })
    await deployments.setDeploymentStatus(octokit, REPO, id, {
      state: 'in_progress',
      logUrl: RUN_URL,
      description: `Activating ${release}`
    })
    await deployments.setDeploymentStatus(octokit, REPO, id, {
      state: 'success',
      environmentUrl: 'https://app.example.com',
      logUrl: RUN_URL,
      description: `Live 🚀 ${'on every host '.repeat(20)}`
    })

    expect(github.state.deployment(FULL_NAME, id)).toMatchObject({
      ref: SHA,
      sha: SHA,
      task: 'deploy',
      environment: 'production',
      payload: { release, rollback: false },
      transient: false,
      production: true
    })
    expect(github.requestsTo('repos/create-deployment')[0]?.body).toMatchObject({
      auto_merge: false,
      required_contexts: []
    })
    const statuses = github.state.statusesOf(id).reverse()
    expect(statuses.map(s => [s.state, s.environmentUrl, s.logUrl])).toEqual([
      ['in_progress', '', RUN_URL],
      ['success', 'https://app.example.com', RUN_URL]
    ])
    expect(statuses[1]?.description).toHaveLength(140)
    expect(statuses[1]?.description.endsWith('…')).toBe(true)
    github.assertNoViolations()
  })

  it('marks a rollback in the payload and a non-production environment as such', async () => {
    const id = await deployments.createDeployment(octokit, REPO, {
      sha: SHA,
      environment: 'staging',
      release: 'r1',
      description: 'Roll back to r1',
      rollback: true
    })
    await deployments.setDeploymentStatus(octokit, REPO, id, {
      state: 'failure',
      logUrl: RUN_URL,
      description: 'Health check failed'
    })

    expect(github.state.deployment(FULL_NAME, id)).toMatchObject({
      environment: 'staging',
      production: false,
      payload: { release: 'r1', rollback: true }
    })
    expect(github.state.statusesOf(id).map(s => s.state)).toEqual(['failure'])
    github.assertNoViolations()
  })
})

interface Seeded {
  readonly name: string
  /** Minutes after t0. */
  readonly created: number
  readonly statuses: readonly (readonly [
    state: 'in_progress' | 'success' | 'failure' | 'error' | 'inactive',
    at: number
  ])[]
  readonly commit: number | undefined
  readonly rollback?: boolean
}

/** Seeds deployments, their statuses and their commits' dates at `t0 + minutes`. */
function seedHistory(
  t0: number,
  history: readonly Seeded[],
  environment = 'production'
): Map<string, number> {
  const at = (minutes: number): string => new Date(t0 + minutes * MIN).toISOString()
  const ids = new Map<string, number>()
  for (const d of history) {
    const sha = fakeSha(d.name)
    if (d.commit !== undefined) github.state.addCommit(sha, at(d.commit))
    const record = github.state.addDeployment({
      ref: sha,
      environment,
      payload: { release: d.name, rollback: d.rollback ?? false },
      createdAt: at(d.created)
    })
    ids.set(d.name, record.id)
    for (const [state, minutes] of d.statuses) {
      github.state.addDeploymentStatus({ deploymentId: record.id, state, createdAt: at(minutes) })
    }
  }
  return ids
}

describe('DORA from the deployments history, in one GraphQL request', () => {
  it('matches the figures worked out by hand (see __tests__/unit/dora.test.ts)', async () => {
    const t0 = Date.UTC(2024, 5, 10, 10)
    const ids = seedHistory(t0, [
      {
        name: 'D1',
        created: 0,
        statuses: [
          ['in_progress', 0],
          ['success', 10]
        ],
        commit: -120
      },
      {
        name: 'D2',
        created: 2820,
        statuses: [
          ['in_progress', 2820],
          ['failure', 2825]
        ],
        commit: 2100
      },
      {
        name: 'D3',
        created: 2940,
        statuses: [
          ['in_progress', 2940],
          ['success', 2945]
        ],
        commit: 2910
      },
      {
        name: 'D4',
        created: 7440,
        statuses: [
          ['success', 7460],
          ['inactive', 8580]
        ],
        commit: 7320
      },
      { name: 'D5', created: 11880, statuses: [['success', 11890]], commit: 11820 },
      {
        name: 'R6',
        created: 11940,
        statuses: [
          ['in_progress', 11940],
          ['success', 11970]
        ],
        commit: undefined,
        rollback: true
      },
      { name: 'D7', created: 14400, statuses: [['error', 14402]], commit: 14340 },
      { name: 'D8', created: 14580, statuses: [['in_progress', 14580]], commit: 14520 },
      { name: 'D9', created: 15780, statuses: [['success', 15784]], commit: 15750 },
      {
        name: 'D10',
        created: 27480,
        statuses: [
          ['in_progress', 27480],
          ['success', 27510]
        ],
        commit: 26040
      }
    ])
    // Another environment's deployment must not count.
    seedHistory(
      t0,
      [{ name: 'S1', created: 3000, statuses: [['failure', 3001]], commit: 2990 }],
      'staging'
    )
    const now = new Date(t0 + 28920 * MIN)

    const history = await readDeploymentHistory(octokit, REPO, 'production', {
      now,
      windowDays: 90
    })
    const figures = dora.computeDora(history, now)

    expect(figures).toEqual({
      windowDays: 20,
      deployments: 6,
      deploymentsPerWeek: expect.closeTo((6 * 168) / 482, 6),
      leadTimeMs: 100 * MIN,
      leadTimeSamples: 6,
      changeFailureRate: 0.375,
      failedChanges: 3,
      finishedChanges: 8,
      timeToRestoreMs: 120 * MIN,
      restoreSamples: 3
    })
    expect(history.find(d => d.id === ids.get('R6'))?.rollback).toBe(true)
    expect(github.requestsTo('graphql')).toHaveLength(1)
    expect(github.requests.filter(r => r.operationId !== 'graphql')).toEqual([])
    expect(github.unhandled).toEqual([])
    github.assertNoViolations()
  })

  it(`reads any history length in at most ${MAX_PAGES} requests, and stops at the start of the window`, async () => {
    const t0 = Date.UTC(2024, 0, 1)
    const many: Seeded[] = Array.from({ length: 350 }, (_, i) => ({
      name: `M${i}`,
      created: i * 60,
      statuses: [['success', i * 60 + 5]],
      commit: i * 60 - 30
    }))
    seedHistory(t0, many)

    const recent = new Date(t0 + 350 * 60 * MIN)
    const all = await readDeploymentHistory(octokit, REPO, 'production', {
      now: recent,
      windowDays: 90
    })
    expect(github.requestsTo('graphql')).toHaveLength(MAX_PAGES)
    expect(all).toHaveLength(300)
    expect(all[0]?.sha).toBe(fakeSha('M349'))

    // A window of 2 days (48 deployments) ends on the first page.
    const short = await readDeploymentHistory(octokit, REPO, 'production', {
      now: recent,
      windowDays: 2
    })
    expect(github.requestsTo('graphql')).toHaveLength(MAX_PAGES + 1)
    expect(short).toHaveLength(100)
    expect(github.unhandled).toEqual([])
    github.assertNoViolations()
  })
})

describe('GraphQL stand-in', () => {
  it('refuses a field GitHub does not have, like GitHub, and records it', async () => {
    const answer = octokit.graphql(
      'query { repository(owner: "octo-org", name: "octo-app") { deployments(first: 1) { nodes { sha } } } }'
    )

    await expect(answer).rejects.toThrow("Field 'sha' doesn't exist on type 'Deployment'")
    expect(github.violations.map(v => [v.reason, v.names])).toEqual([
      ['graphql-schema', ['Deployment.sha']]
    ])
    expect(() => github.assertNoViolations()).toThrow('Deployment.sha')
  })

  it('counts a real field it does not serve as unhandled, not as valid', async () => {
    github.state.addDeployment({ ref: SHA })
    const answer = octokit.graphql(
      'query { repository(owner: "octo-org", name: "octo-app") { deployments(first: 1) { nodes { creator { login } } } } }'
    )

    await expect(answer).rejects.toThrow('does not serve Deployment.creator')
    expect(github.unhandled).toHaveLength(1)
    expect(github.violations).toEqual([])
  })
})

describe('request budget', () => {
  it('sends a handful of writes without spacing them a second apart', async () => {
    const started = Date.now()
    const id = await deployments.createDeployment(octokit, REPO, {
      sha: SHA,
      environment: 'production',
      release: 'r1',
      description: 'Activate r1'
    })
    for (const state of ['in_progress', 'success'] as const) {
      await deployments.setDeploymentStatus(octokit, REPO, id, {
        state,
        logUrl: RUN_URL,
        description: state
      })
    }
    await comments.upsertStickyComment(octokit, sticky(7), `${MARKER}\nDeployed`)
    const elapsed = Date.now() - started

    expect(github.requests.filter(r => r.method !== 'GET')).toHaveLength(4)
    // The throttling plugin spaced writes 1 s apart: four writes took over 3 s.
    expect(elapsed).toBeLessThan(1500)
    github.assertNoViolations()
  })
})

/** What the action printed to stdout (workflow commands) while `fn` ran. */
async function printed(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = []
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    lines.push(...String(chunk).split('\n').filter(Boolean))
    return true
  })
  try {
    await fn()
  } finally {
    spy.mockRestore()
  }
  return lines
}

describe('an API that accepts connections and never answers', () => {
  it('costs one timeout and one warning for the whole run, under 10 s', async () => {
    const sockets: Socket[] = []
    const silent = createServer(socket => sockets.push(socket))
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const address = silent.address()
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    const client = await createOctokit('ghs_silent', url)
    if (!client) throw new Error('no client')
    const errors: unknown[] = []
    const started = Date.now()

    const lines = await printed(async () => {
      for (let i = 0; i < 4; i++) {
        await client.rest.repos.get({ owner: 'o', repo: 'r' }).catch((e: unknown) => errors.push(e))
      }
    })
    const elapsed = Date.now() - started
    sockets.forEach(socket => socket.destroy())
    await new Promise<void>(resolve => silent.close(() => resolve()))

    expect(errors).toHaveLength(4)
    expect(errors.every(isUnreachable)).toBe(true)
    expect(sockets).toHaveLength(1)
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100)
    expect(elapsed).toBeLessThan(10_000)
    const warnings = lines.filter(line => line.startsWith('::warning'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)
  }, 20_000)
})

describe('a token that is an unexpanded expression', () => {
  it('means no token: a notice, no client, no request', async () => {
    let client: Octokit | undefined
    const lines = await printed(async () => {
      client = await createOctokit('${{ github.token }}', github.url)
    })

    expect(client).toBeUndefined()
    expect(lines.filter(line => line.startsWith('::notice'))).toHaveLength(1)
    expect(lines.join('\n')).toContain('unexpanded expression')
    expect(github.requests).toEqual([])
  })
})
