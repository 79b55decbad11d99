/** End-to-end through the bundle: build and test stages, failures, bad input. */
import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { examplePayload } from '../rig/payloads.js'
import { runAction } from '../rig/runner.js'

function workspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gd-ws-'))
  writeFileSync(path.join(dir, 'package-lock.json'), '{"lockfileVersion": 3}\n')
  return dir
}

describe('build and test through dist/index.js', () => {
  it('runs build then test, reports status tested with the sha, and writes a summary row per stage', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: {
        build: 'echo building > build.txt\necho "built in $PWD"',
        test: 'test -f build.txt\necho tests-ran > test.txt'
      }
    })
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('tested')
    expect(result.outputs.sha).toBe('6113728f27ae82c7b1a177c8d03f9e96e0adf246')
    expect(Number(result.outputs.duration)).toBeGreaterThanOrEqual(0)
    expect(existsSync(path.join(ws, 'test.txt'))).toBe(true)
    expect(result.log).toContain(`built in ${ws}`)
    expect(result.log).toContain('::group::build')
    expect(result.summary).toContain('| build | ✅ success |')
    expect(result.summary).toContain('| test | ✅ success |')
  })

  it('runs scripts with -eo pipefail like a run: step', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      inputs: { build: 'false | cat\necho should-not-print > after.txt' }
    })
    expect(result.exitCode).toBe(1)
    expect(existsSync(path.join(ws, 'after.txt'))).toBe(false)
  })

  it('fails on a failing build with its exit code and output tail, and never runs test', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      inputs: {
        build: 'echo compiling-step-1\necho "error: missing semicolon" >&2\nexit 3',
        test: 'touch tested'
      }
    })
    expect(result.exitCode).toBe(1)
    expect(result.outputs.status).toBe('failed')
    expect(result.log).toMatch(/::error::build failed with exit code 3/)
    expect(result.log).toContain('error: missing semicolon')
    expect(existsSync(path.join(ws, 'tested'))).toBe(false)
    expect(result.summary).toContain('| build | ❌ failure |')
    expect(result.summary).toContain('error: missing semicolon')
  })

  it('fails on a failing test with the stage named', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      inputs: { build: 'true', test: 'echo "FAIL  adds numbers"\nexit 1' }
    })
    expect(result.exitCode).toBe(1)
    expect(result.outputs.status).toBe('failed')
    expect(result.log).toMatch(/::error::test failed with exit code 1/)
    expect(result.log).toContain('FAIL  adds numbers')
    expect(result.summary).toContain('| test | ❌ failure |')
  })

  it('refuses an invalid input before running anything, naming the input', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      inputs: { mode: 'continuous', build: 'touch built' }
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toMatch(/::error::Invalid input; nothing was run\./)
    expect(result.log).toContain('`mode`: expected "delivery" or "deployment", got "continuous"')
    expect(existsSync(path.join(ws, 'built'))).toBe(false)
  })

  it('says in one line that the cache service is missing and goes on', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      inputs: { 'cache-path': 'node_modules', build: 'true' }
    })
    expect(result.exitCode).toBe(0)
    expect(result.log).toContain('cache skipped: the runner offers no cache service here')
  })

  it('gives build and test the environment of a run: step: no credentials, no runner tokens', async () => {
    const ws = workspace()
    const credentials = {
      'private-key': 'not-a-key-but-secret-KEY-CANARY',
      passphrase: 'PASSPHRASE-CANARY',
      password: 'PASSWORD-CANARY',
      'github-token': 'ghs_TOKENCANARY0123456789'
    }
    const runner = {
      ACTIONS_RUNTIME_URL: 'https://pipelines.invalid/RUNTIME-URL-CANARY/',
      ACTIONS_RUNTIME_TOKEN: 'RUNTIME-TOKEN-CANARY',
      ACTIONS_CACHE_URL: 'https://cache.invalid/CACHE-URL-CANARY/',
      ACTIONS_RESULTS_URL: 'https://results.invalid/RESULTS-URL-CANARY/',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc.invalid/ID-URL-CANARY',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'ID-TOKEN-CANARY'
    }
    const result = await runAction({
      workspace: ws,
      inputs: { ...credentials, build: 'env > build-env.txt', test: 'env > test-env.txt' },
      env: runner
    })
    expect(result.exitCode).toBe(0)
    for (const file of ['build-env.txt', 'test-env.txt']) {
      const dumped = readFileSync(path.join(ws, file), 'utf8')
      expect(dumped).toMatch(/^GITHUB_WORKSPACE=/m) // the dump is real
      expect(dumped).not.toMatch(/^INPUT_/m)
      expect(dumped).not.toMatch(/^ACTIONS_(RUNTIME|CACHE|RESULTS|ID_TOKEN)/m)
      expect(dumped).not.toContain('CANARY')
    }
  })

  it('keeps a script from setting the action outputs', async () => {
    const ws = workspace()
    const result = await runAction({
      workspace: ws,
      inputs: { build: 'echo "release=20200101000000-deadbeefcafe" >> "$GITHUB_OUTPUT"' }
    })
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('tested')
    expect(result.outputs.release).toBeUndefined()
  })
})
