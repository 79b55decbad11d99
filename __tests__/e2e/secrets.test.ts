/**
 * Credentials end to end through dist/index.js and the OpenAPI-checked GitHub stand-in: a
 * failing build that prints every credential puts none of them on the pull request or in the
 * job summary; a secret in a failure reaches neither the outputs nor the server's history; and
 * the GitHub client masks every comment, issue and deployment it writes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGitHubStandIn, type GitHubStandIn } from '../rig/github-standin.js'
import { pullRequestPayload } from '../rig/payloads.js'
import { runAction } from '../rig/runner.js'
import { deploy, history, workspaceWith } from '../rig/deploy.js'
import { makeTestDir, startSshd, stopAllSshd } from '../rig/sshd.js'
import { createOctokit, repoOf } from '../../src/github/client.js'
import { gateApi } from '../../src/github/gate-api.js'
import { DeploymentRecord } from '../../src/github/publish.js'
import { clearSecrets, registerSecrets } from '../../src/mask.js'

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

describe('every sink masks what it sends', () => {
  const SECRET = 'hunter2-password'

  it('keeps a secret out of the outputs, the job summary and the server history', async () => {
    const sshd = await startSshd()
    try {
      const remote = await makeTestDir()
      // The login user cannot write shared/: storing the shared path named after the secret fails.
      mkdirSync(path.join(remote, 'shared'), { mode: 0o555 })
      const result = await deploy(sshd, workspaceWith({ 'index.html': 'x' }), remote, {
        password: SECRET,
        'shared-paths': `uploads-${SECRET}`
      })
      expect(result.exitCode).toBe(1)
      // The failure's first sentence is escaped text: GitHub shows `&#42;` as `*`.
      expect(result.summary).toContain('uploads-&#42;&#42;&#42;')
      expect(result.summary).not.toContain(SECRET)
      const failure = history(remote).at(-1) as { event: string; reason?: string } | undefined
      expect(failure?.event).toBe('failure')
      expect(failure?.reason).toContain('uploads-***')
      const sinks = [
        result.summary,
        JSON.stringify(result.outputs),
        readFileSync(path.join(remote, '.gated-deploy', 'history.jsonl'), 'utf8')
      ]
      for (const text of sinks) expect(text).not.toContain(SECRET)
    } finally {
      await stopAllSshd()
    }
  })

  it('keeps a secret out of every GitHub request body: comments, issues, deployments', async () => {
    registerSecrets([SECRET])
    try {
      const octokit = await createOctokit('ghs_maskTestToken', github.url)
      if (!octokit) throw new Error('createOctokit refused a real token')
      const repo = repoOf({ owner: 'Codertocat', repo: 'Hello-World' })
      github.state.addPull({ number: 11, head: { sha: SHA } })
      const api = gateApi(octokit, repo)
      await api.comment(11, `approve with ${SECRET}`)
      const issue = await api.openIssue(`title ${SECRET}`, `body ${SECRET}`, [])
      const record = new DeploymentRecord(octokit, repo, {
        environment: 'production',
        environmentUrl: undefined,
        logUrl: 'https://github.com/Codertocat/Hello-World/actions/runs/1',
        rollback: false
      })
      await record.started('20261201000000-aaaaaaaaaaaa', SHA)
      await record.finished(false, `server said ${SECRET}`)
      await record.settled()
      const written = JSON.stringify([
        github.state.commentsOn(11),
        github.state.issue(REPO, issue),
        github.state.deploymentsIn(REPO),
        github.state.statusesOf(record.id ?? -1)
      ])
      expect(written).toContain('approve with ***')
      expect(written).toContain('server said ***')
      expect(written).not.toContain(SECRET)
    } finally {
      clearSecrets()
    }
  })
})
