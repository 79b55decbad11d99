/**
 * Inputs mean what they say, end to end through dist/index.js: a real sshd for what ships, the
 * OpenAPI-checked GitHub stand-in for what is (not) asked of GitHub.
 */
import { describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { deploy, isSymlink, readRemote, workspaceWith } from '../rig/deploy.js'
import { pullRequestPayload } from '../rig/payloads.js'
import { runAction } from '../rig/runner.js'
import { useServers } from '../rig/servers.js'
import { makeTestDir } from '../rig/sshd.js'

const servers = useServers('Codertocat/Hello-World')

describe('inputs through the bundle', () => {
  it('exclude follows .gitignore: negation re-includes, escapes match literally', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({
      'app.js.map': 'x',
      'keep.map': 'kept',
      'lib/keep.map': 'kept too',
      'lib/other.map': 'x',
      '#notes': 'x',
      'logs/a.log': 'x',
      'logs/keep.log': 'kept',
      'index.html': 'kept'
    })
    const result = await deploy(servers.sshd, ws, remote, {
      exclude: '*.map\n!keep.map\n\\#notes\nlogs/*\n!logs/keep.log'
    })
    expect(result.exitCode).toBe(0)
    const live = path.join(remote, 'current')
    expect(readRemote(remote, 'current', 'keep.map')).toBe('kept')
    expect(readRemote(remote, 'current', 'lib', 'keep.map')).toBe('kept too')
    expect(readRemote(remote, 'current', 'logs', 'keep.log')).toBe('kept')
    expect(readRemote(remote, 'current', 'index.html')).toBe('kept')
    for (const gone of ['app.js.map', 'lib/other.map', '#notes', 'logs/a.log']) {
      expect(existsSync(path.join(live, gone))).toBe(false)
    }
  })

  it('refuses a brace pattern in exclude before building or connecting', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.map': 'x' })
    const result = await deploy(servers.sshd, ws, remote, {
      exclude: '*.{map,ts}',
      build: 'touch built'
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('`exclude`: "*.{map,ts}" uses {a,b} alternatives')
    expect(existsSync(path.join(ws, 'built'))).toBe(false)
    expect(existsSync(path.join(remote, 'releases'))).toBe(false)
  })

  it('names every bad input at once even when hosts cannot be parsed', async () => {
    const ws = workspaceWith({})
    const result = await runAction({
      workspace: ws,
      inputs: {
        hosts: 'not a host!',
        'remote-path': '/',
        'shared-paths': '/etc',
        exclude: 'dist\\',
        mode: 'sometimes',
        build: 'touch built'
      }
    })
    expect(result.exitCode).toBe(1)
    for (const input of [
      'hosts',
      'remote-path',
      'shared-paths',
      'exclude',
      'mode',
      'private-key'
    ]) {
      expect(result.log).toContain(`\`${input}\``)
    }
    expect(existsSync(path.join(ws, 'built'))).toBe(false)
  })

  it('links normalised shared-paths (uploads/. and ./cache/) into the release', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'index.html': 'x' })
    const result = await deploy(servers.sshd, ws, remote, { 'shared-paths': 'uploads/.\n./cache/' })
    expect(result.exitCode).toBe(0)
    expect(isSymlink(path.join(remote, 'current', 'uploads'))).toBe(true)
    expect(isSymlink(path.join(remote, 'current', 'cache'))).toBe(true)
    expect(existsSync(path.join(remote, 'shared', 'uploads'))).toBe(true)
    expect(existsSync(path.join(remote, 'shared', 'cache'))).toBe(true)
  })

  it('an unexpanded ${{ github.token }} means no token: a notice and no API call', async () => {
    const ws = workspaceWith({})
    const github = servers.github
    github.state.addPull({ number: 3, head: { sha: 'b'.repeat(40) } })
    const result = await runAction({
      workspace: ws,
      eventName: 'pull_request',
      payload: pullRequestPayload(3, 'b'.repeat(40)),
      inputs: { 'github-token': '${{ github.token }}', build: 'true' },
      env: { GITHUB_SHA: 'b'.repeat(40), GITHUB_API_URL: github.url }
    })
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('tested')
    expect(result.log).toContain(
      '::notice::`github-token` is the unexpanded expression ${{ github.token }}'
    )
    expect(github.requests).toHaveLength(0)
  })
})
