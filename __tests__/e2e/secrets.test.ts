/**
 * Credentials end to end through dist/index.js and the OpenAPI-checked GitHub stand-in: a
 * failing build that prints every credential puts none of them on the pull request or in the
 * job summary.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGitHubStandIn, type GitHubStandIn } from '../rig/github-standin.js'
import { pullRequestPayload } from '../rig/payloads.js'
import { runAction } from '../rig/runner.js'

const REPO = 'Codertocat/Hello-World'
const SHA = 'a'.repeat(40)
let github: GitHubStandIn
beforeAll(async () => {
  github = await startGitHubStandIn({ repository: REPO })
})
afterEach(() => {
  github.assertNoViolations()
  github.reset()
})
afterAll(async () => {
  await github.close()
})

const keyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'gd-secrets-')), 'id')
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-f', keyFile])
const privateKey = readFileSync(keyFile, 'utf8')
const keyLines = privateKey.split('\n').filter(line => line.length >= 8)

describe('secrets never leave the runner unmasked', () => {
  it('masks every credential a failing build prints in the PR comment and the summary', async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'gd-ws-'))
    github.state.addPull({ number: 9, head: { sha: SHA } })
    const result = await runAction({
      workspace: ws,
      eventName: 'pull_request',
      payload: pullRequestPayload(9, SHA),
      inputs: {
        'github-token': 'ghs_SECRETTOKEN0123456789',
        'private-key': privateKey,
        passphrase: 'open sesame',
        password: 'hunter2-password',
        // What a hostile build could print if it found the values some other way.
        build: [
          `echo 'token ghs_SECRETTOKEN0123456789 password hunter2-password'`,
          `echo 'passphrase: open sesame'`,
          `cat <<'KEY'\n${privateKey}KEY`,
          `echo '${keyLines[2] ?? ''}' | tr -d '\\n'; echo ' <- one line of it'`,
          'exit 7'
        ].join('\n')
      },
      env: { GITHUB_SHA: SHA, GITHUB_API_URL: github.url }
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('build failed with exit code 7')
    const comments = github.state.commentsOn(9)
    expect(comments).toHaveLength(1)
    const body = comments[0]?.body ?? ''
    for (const text of [body, result.summary]) {
      expect(text).toContain('exit code 7')
      expect(text).toContain('token *** password ***')
      expect(text).toContain('passphrase: ***')
      expect(text).toContain('*** <- one line of it')
      for (const secret of ['ghs_SECRETTOKEN', 'hunter2', 'open sesame', ...keyLines]) {
        expect(text).not.toContain(secret)
      }
    }
  })
})
