/**
 * Reporting against the OpenAPI-checked GitHub stand-in: the sticky comment, the PR of a commit,
 * deployments and their statuses, and DORA figures read back from the deployments history.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { fakeSha, startGitHubStandIn } from '../rig/github-standin.js'
import type { GitHubStandIn } from '../rig/github-standin.js'
import type { Octokit } from '../../src/github/client.js'

type Comments = typeof import('../../src/github/comments.js')
type Deployments = typeof import('../../src/github/deployments.js')
type Dora = typeof import('../../src/report/dora.js')

const REPO = { owner: 'octo-org', repo: 'octo-app' }
const FULL_NAME = 'octo-org/octo-app'
const SHA = fakeSha('head')
const RUN_URL = 'https://github.com/octo-org/octo-app/actions/runs/42'
const MARKER = '<!-- gated-deploy:production -->'
const MIN = 60_000
const DAY = 24 * 60 * MIN

let github: GitHubStandIn
let octokit: Octokit
let comments: Comments
let deployments: Deployments
let dora: Dora

beforeAll(async () => {
  github = await startGitHubStandIn({ repository: FULL_NAME })
  // @actions/github reads GITHUB_API_URL when it is first loaded: set it, then import.
  process.env.GITHUB_API_URL = github.url
  const client = await import('../../src/github/client.js')
  comments = await import('../../src/github/comments.js')
  deployments = await import('../../src/github/deployments.js')
  dora = await import('../../src/report/dora.js')
  octokit = await client.createOctokit('ghs_reportTestToken')
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

    const first = await comments.upsertStickyComment(
      octokit,
      REPO,
      7,
      'production',
      `${MARKER}\nStaged`
    )
    const second = await comments.upsertStickyComment(
      octokit,
      REPO,
      7,
      'production',
      `${MARKER}\nDeployed`
    )

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

    const result = await comments.upsertStickyComment(octokit, REPO, 7, 'production', 'Deployed')

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

    const result = await comments.upsertStickyComment(
      octokit,
      REPO,
      9,
      'production',
      `${MARKER}\nnew`
    )

    expect(github.requestsTo('users/get-authenticated').map(r => r.status)).toEqual([403])
    expect(result).toMatchObject({ id: ours.id, created: false })
    expect(github.state.comment(FULL_NAME, ours.id)?.body).toBe(`${MARKER}\nnew`)
    github.assertNoViolations()
  })

  it('leaves github-actions[bot] comments alone when the token is someone else', async () => {
    const bot = github.state.addComment({ issueNumber: 9, body: `${MARKER}\nbot` })
    github.state.setIdentity({ login: 'deploy-app[bot]', id: 4242, type: 'Bot' })

    const result = await comments.upsertStickyComment(
      octokit,
      REPO,
      9,
      'production',
      `${MARKER}\napp`
    )

    expect(result.created).toBe(true)
    expect(github.state.comment(FULL_NAME, bot.id)?.body).toBe(`${MARKER}\nbot`)
    expect(github.state.comment(FULL_NAME, result.id)?.user.login).toBe('deploy-app[bot]')
    github.assertNoViolations()
  })

  it('pages through long threads to find its comment', async () => {
    const ours = github.state.addComment({ issueNumber: 11, body: `${MARKER}\nfirst` })
    for (let i = 0; i < 150; i++)
      github.state.addComment({ issueNumber: 11, user: 'alice', body: `${i}` })

    const result = await comments.upsertStickyComment(
      octokit,
      REPO,
      11,
      'production',
      `${MARKER}\nagain`
    )

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

    const result = await comments.upsertStickyComment(
      octokit,
      REPO,
      7,
      'production',
      `${MARKER}\nthis run`
    )

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

describe('findPullForCommit', () => {
  it('prefers the merged pull request whose merge commit it is', async () => {
    github.state.addPull({ number: 20, head: { sha: SHA } })
    github.state.addPull({
      number: 12,
      head: { sha: fakeSha('feature') },
      state: 'closed',
      merged: true,
      mergeCommitSha: SHA
    })

    const pull = await comments.findPullForCommit(octokit, REPO, SHA)

    expect(pull).toEqual({
      number: 12,
      url: `https://github.com/${FULL_NAME}/pull/12`,
      state: 'closed',
      merged: true,
      headSha: fakeSha('feature')
    })
    github.assertNoViolations()
  })

  it('finds the open pull request whose head it is, and nothing for an unknown commit', async () => {
    github.state.addPull({ number: 30, head: { sha: SHA } })

    expect(await comments.findPullForCommit(octokit, REPO, SHA)).toMatchObject({
      number: 30,
      state: 'open',
      merged: false
    })
    expect(await comments.findPullForCommit(octokit, REPO, fakeSha('nowhere'))).toBeUndefined()
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

/** Runs `seed` with the stand-in's clock at `ms`, so seeded records carry that time. */
function seedAt<T>(ms: number, seed: () => T): T {
  const spy = jest.spyOn(Date, 'now').mockReturnValue(ms)
  try {
    return seed()
  } finally {
    spy.mockRestore()
  }
}

/**
 * The stand-in's clock only moves forward (it stamps records strictly after the last one), so
 * histories are seeded ahead of anything earlier tests wrote.
 */
const FUTURE = Math.floor(Date.now() / MIN) * MIN + 365 * DAY

describe('DORA from the deployments history', () => {
  it('matches the figures worked out by hand (see __tests__/unit/dora.test.ts)', async () => {
    // Minutes after D1 was created; the same history as the unit test, from 10 June 10:00.
    const t0 = FUTURE
    const history: {
      name: string
      created: number
      statuses: [string, number][]
      commit: number | undefined
      rollback?: boolean
    }[] = [
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
    ]
    const now = new Date(t0 + 28920 * MIN)
    const ids = new Map<string, number>()
    type Event = { at: number; run: () => void }
    const events: Event[] = history.flatMap(d => [
      {
        at: d.created,
        run: () => {
          const record = github.state.addDeployment({
            ref: fakeSha(d.name),
            environment: 'production',
            payload: { release: d.name, rollback: d.rollback ?? false }
          })
          ids.set(d.name, record.id)
        }
      },
      ...d.statuses.map(([state, at]) => ({
        at,
        run: () =>
          github.state.addDeploymentStatus({
            deploymentId: ids.get(d.name) ?? 0,
            state: state as 'success'
          })
      }))
    ])
    // Another environment's deployment must not count.
    events.push({
      at: 3000,
      run: () => {
        const other = github.state.addDeployment({ ref: fakeSha('S1'), environment: 'staging' })
        github.state.addDeploymentStatus({ deploymentId: other.id, state: 'failure' })
      }
    })
    for (const event of events.sort((a, b) => a.at - b.at)) seedAt(t0 + event.at * MIN, event.run)
    const commitDates = new Map(
      history.flatMap(d =>
        d.commit === undefined
          ? []
          : [[fakeSha(d.name), new Date(t0 + d.commit * MIN).toISOString()] as const]
      )
    )
    github.on('repos/get-commit', ({ request }) => {
      const ref = request.params['ref'] ?? ''
      const date = commitDates.get(ref)
      if (date === undefined)
        return { status: 422, body: { message: `No commit found for SHA: ${ref}` } }
      const person = { name: 'Octo Cat', email: 'octocat@example.com', date }
      return {
        status: 200,
        body: { sha: ref, commit: { author: person, committer: person, message: 'Change' } }
      }
    })

    const facts = await dora.fetchDeploymentHistory(octokit, REPO, 'production', now)
    const figures = dora.computeDora(facts, now)

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
    expect(github.requestsTo('repos/list-deployments').map(r => r.query['environment'])).toEqual([
      'production'
    ])
    expect(github.requestsTo('repos/list-deployment-statuses')).toHaveLength(10)
    // One commit look-up per change that went live: D1 D3 D4 D5 D9 D10.
    expect(
      github
        .requestsTo('repos/get-commit')
        .map(r => r.params['ref'])
        .sort()
    ).toEqual(['D1', 'D3', 'D4', 'D5', 'D9', 'D10'].map(name => fakeSha(name)).sort())
    expect(facts.find(d => d.id === ids.get('R6'))?.rollback).toBe(true)
    github.assertNoViolations()
  })

  it('stops paging at the start of the window', async () => {
    const now = FUTURE + 1000 * DAY
    // 60 deployments 200 days ago, then 60 in the last 10 days; newest first, page 1 reaches the old ones.
    for (let i = 0; i < 60; i++) {
      seedAt(now - 200 * DAY + i * MIN, () =>
        github.state.addDeployment({ ref: fakeSha(`old${i}`) })
      )
    }
    for (let i = 0; i < 60; i++) {
      seedAt(now - 10 * DAY + i * MIN, () =>
        github.state.addDeployment({ ref: fakeSha(`new${i}`) })
      )
    }

    const facts = await dora.fetchDeploymentHistory(octokit, REPO, 'production', new Date(now))

    expect(github.requestsTo('repos/list-deployments')).toHaveLength(1)
    expect(github.requestsTo('repos/list-deployment-statuses')).toHaveLength(60)
    expect(facts).toHaveLength(100)
    expect(dora.computeDora(facts, new Date(now))).toHaveProperty('insufficient')
    github.assertNoViolations()
  })
})
