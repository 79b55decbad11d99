/**
 * Reporting overhead (issue #14): the same deployment-mode deploy on a push to main, with a token
 * against the GitHub stand-in answering every request `delayMs` late, and without a token (no
 * API use at all). Each run checks the release file by file and what reached the stand-in.
 */
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { sshInputs } from '../__tests__/rig/deploy.js'
import { startGitHubStandIn, type GitHubStandIn } from '../__tests__/rig/github-standin.js'
import { examplePayload } from '../__tests__/rig/payloads.js'
import { makeTestDir, type Sshd } from '../__tests__/rig/sshd.js'
import { verifyExact, type Contents } from './fleet.js'
import { seconds, type Series } from './report.js'
import { gatedDeployWith } from './tools.js'

/** The runner's GITHUB_REPOSITORY (__tests__/rig/runner.ts). */
const REPOSITORY = 'Codertocat/Hello-World'
const TOKEN = 'ghs_bench'
export const API_DELAY_MS = 150

export const withToken = 'reporting:token'
export const withoutToken = 'reporting:none'
export const requestsKey = 'reporting:requests'

export function startSlowGitHub(): Promise<GitHubStandIn> {
  return startGitHubStandIn({ repository: REPOSITORY, token: TOKEN, delayMs: API_DELAY_MS })
}

/** A push of `sha` to main. */
function pushToMain(sha: string): Record<string, unknown> {
  const payload = examplePayload('push')
  payload.ref = 'refs/heads/main'
  payload.after = sha
  return payload
}

/** What a token run must have done: one deployment, marked in progress then successful. */
function checkReported(github: GitHubStandIn, log: string): void {
  github.assertNoViolations()
  if (github.unhandled.length > 0)
    throw new Error(
      `the stand-in had no handler for ${github.unhandled.map(r => r.operationId ?? r.path).join(', ')}`
    )
  const created = github.requestsTo('repos/create-deployment').length
  const states = github
    .requestsTo('repos/create-deployment-status')
    .map(r => (r.body as { state?: unknown } | undefined)?.state)
  if (created !== 1 || states.at(-1) !== 'success')
    throw new Error(
      `with a token: ${created} deployments created, statuses ${JSON.stringify(states)}:\n${log.slice(-2000)}`
    )
}

/**
 * One run: without then with a token, each into a fresh directory; both release trees checked
 * against `want`. Records ms under withoutToken / withToken and the token run's request count.
 */
export async function runReporting(
  github: GitHubStandIn,
  sshd: Sshd,
  workspace: string,
  want: Contents,
  results: Series,
  log: (line: string) => void
): Promise<void> {
  for (const token of [false, true]) {
    github.reset()
    const dir = await makeTestDir()
    const sha = commitOnGitHub(github)
    const sample = await gatedDeployWith(
      workspace,
      { ...sshInputs(sshd, dir), ...(token ? { 'github-token': TOKEN } : {}) },
      { payload: pushToMain(sha), env: { GITHUB_SHA: sha, GITHUB_API_URL: github.url } }
    )
    verifyExact(want, path.join(dir, 'current'))
    if (token) checkReported(github, sample.log)
    else if (github.requests.length > 0)
      throw new Error(`without a token, ${github.requests.length} requests reached the API`)
    results.add(token ? withToken : withoutToken, sample.ms)
    if (token) results.add(requestsKey, github.requests.length)
    log(`  reporting:${token ? 'token' : 'none'} ${seconds(sample.ms)}`)
    await rm(dir, { recursive: true, force: true })
  }
}

let commits = 0
/** A fresh commit sha, known to the stand-in as an hour old (for the lead time). */
function commitOnGitHub(github: GitHubStandIn): string {
  commits++
  const sha = `beefcafe${commits.toString(16).padStart(8, '0')}`.padEnd(40, '0')
  github.state.addCommit(sha, new Date(Date.now() - 3_600_000).toISOString())
  return sha
}
