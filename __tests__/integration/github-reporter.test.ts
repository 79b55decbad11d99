/**
 * The GitHub side of a run off the deploy's critical path (issue 14), against the OpenAPI-checked
 * stand-in: a deployment record whose statuses do not hold up the deploy, and look-ups made once
 * per run. Held answers are released by the test, never by time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { repoOf, type Octokit } from '../../src/github/client.js'
import { RunLookups } from '../../src/github/lookups.js'
import { DeploymentRecord } from '../../src/github/publish.js'
import { fakeSha, startGitHubStandIn, type GitHubStandIn } from '../rig/github-standin.js'

const REPO = repoOf({ owner: 'octo-org', repo: 'octo-app' })
const SHA = fakeSha('head')
const RUN_URL = 'https://github.com/octo-org/octo-app/actions/runs/42'

let github: GitHubStandIn
let octokit: Octokit

beforeAll(async () => {
  github = await startGitHubStandIn({ repository: 'octo-org/octo-app' })
  const client = await import('../../src/github/client.js')
  const created = await client.createOctokit('ghs_reporterTestToken', github.url)
  if (!created) throw new Error('createOctokit refused a real token')
  octokit = created
})

afterEach(() => {
  github.assertNoViolations()
  github.reset()
})

afterAll(async () => {
  await github.close()
})

/** A gate the test opens: the stand-in's answers wait for it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => undefined
  const opened = new Promise<void>(resolve => {
    open = resolve
  })
  return { opened, open }
}

function record(): DeploymentRecord {
  return new DeploymentRecord(octokit, REPO, {
    environment: 'production',
    environmentUrl: 'https://app.example.com',
    logUrl: RUN_URL,
    rollback: false
  })
}

describe('DeploymentRecord', () => {
  it('returns from finished() while its statuses are still unanswered, and sends them in order', async () => {
    const statuses = gate()
    github.on('repos/create-deployment-status', async ({ next }) => {
      await statuses.opened
      return next()
    })
    const deployment = record()

    deployment.begin('r1', SHA)
    await deployment.started('r1', SHA)
    const id = deployment.id
    expect(id).toBe(github.state.deploymentsIn()[0]?.id)
    await deployment.finished(true, 'r1 is live on 1 host')
    expect(github.state.statusesOf(id ?? -1)).toEqual([])

    statuses.open()
    await deployment.settled()
    expect(
      github
        .requestsTo('repos/create-deployment-status')
        .map(r => (r.body as { state: string }).state)
    ).toEqual(['in_progress', 'success'])
    expect(deployment.outcome()).toMatchObject({ id, sha: SHA, state: 'success', rollback: false })
    expect(github.requestsTo('repos/create-deployment')).toHaveLength(1)
  })

  it('creates the deployment once, whether begun ahead or only when the switch starts', async () => {
    const ahead = record()
    ahead.begin('r1', SHA)
    ahead.begin('r1', SHA)
    await ahead.started('r1', SHA)
    const late = record()
    await late.started('r2', SHA)
    await Promise.all([ahead.settled(), late.settled()])
    expect(github.requestsTo('repos/create-deployment')).toHaveLength(2)
    expect(late.id).toBeDefined()
    expect(late.id).not.toBe(ahead.id)
  })

  it('marks a deployment whose run stopped before the switch inactive, and reports no outcome', async () => {
    const deployment = record()
    deployment.begin('r1', SHA)
    deployment.abandon('the lock is held by run 7')
    await deployment.settled()
    const [created] = github.state.deploymentsIn()
    expect(github.state.statusesOf(created?.id ?? -1).map(s => [s.state, s.description])).toEqual([
      ['inactive', 'Not activated: the lock is held by run 7'],
      ['in_progress', 'Switching to r1']
    ])
    expect(deployment.id).toBeUndefined()
    expect(deployment.outcome()).toBeUndefined()
  })

  it('sends nothing more when the deployment could not be created', async () => {
    github.respond('repos/create-deployment', { status: 422, times: 1 })
    const deployment = record()
    await deployment.started('r1', SHA)
    await deployment.finished(false, 'broken')
    await deployment.settled()
    expect(deployment.id).toBeUndefined()
    expect(github.requestsTo('repos/create-deployment-status')).toEqual([])
  })
})

describe('RunLookups', () => {
  it('asks GitHub once per commit and once for its identity, however often it is asked', async () => {
    github.state.addPull({ number: 7, head: { sha: SHA } })
    const lookups = new RunLookups(octokit, REPO)
    const pulls = await Promise.all([
      lookups.pullForCommit(SHA),
      lookups.pullForCommit(SHA.toUpperCase()),
      lookups.pullForCommit(SHA)
    ])
    const identities = await Promise.all([lookups.tokenIdentity(), lookups.tokenIdentity()])
    expect(pulls.map(p => p?.number)).toEqual([7, 7, 7])
    expect(identities).toEqual(['github-actions[bot]', 'github-actions[bot]'])
    expect(github.requestsTo('repos/list-pull-requests-associated-with-commit')).toHaveLength(1)
    expect(github.requestsTo('users/get-authenticated')).toHaveLength(1)
    // Another commit is another look-up.
    await lookups.pullForCommit(fakeSha('other'))
    expect(github.requestsTo('repos/list-pull-requests-associated-with-commit')).toHaveLength(2)
  })
})
