/**
 * Release ids end to end: unique per run attempt and the same in every job of one (so shards of
 * a run that stage the same commit on their own hosts are promoted together by id or by sha),
 * never removing a release another run made, and releases ordered by when they were stored,
 * not by how their ids sort.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { liveRelease, nextSha, readRemote, releases, workspaceWith } from '../rig/deploy.js'
import { makeKeyPair } from '../rig/keys.js'
import { runAction, type RunResult } from '../rig/runner.js'
import { startFleet } from '../rig/server-kinds.js'
import { makeTestDir, stopAllSshd, type Sshd } from '../rig/sshd.js'

let hosts: Sshd[]
let privateKey: string

beforeAll(async () => {
  const key = await makeKeyPair()
  privateKey = key.privateKey
  hosts = await startFleet(2, { authorizedKeys: [key.publicKey] })
})
afterAll(async () => {
  await stopAllSshd()
})

function run(options: {
  on: readonly Sshd[]
  remote: string
  files?: Record<string, string>
  sha: string
  runId: string
  attempt?: string
  inputs?: Record<string, string>
}): Promise<RunResult> {
  return runAction({
    workspace: workspaceWith(options.files ?? {}),
    inputs: {
      mode: 'delivery',
      hosts: options.on.map(h => `${h.username}@127.0.0.1:${h.port}`).join(', '),
      'private-key': privateKey,
      'known-hosts': options.on.map(h => h.knownHostsLine).join('\n'),
      'remote-path': options.remote,
      artifact: 'dist',
      ...options.inputs
    },
    env: {
      GITHUB_SHA: options.sha,
      GITHUB_RUN_ID: options.runId,
      GITHUB_RUN_ATTEMPT: options.attempt ?? '1'
    }
  })
}

describe('release ids', () => {
  it('are unique per run attempt, and a run never removes a release it did not make', async () => {
    const [host] = hosts
    if (!host) throw new Error('no host')
    const remote = await makeTestDir(host)
    const sha = nextSha()
    const first = await run({ on: [host], remote, sha, runId: '5001', files: { 'a.txt': '1' } })
    expect(first.outputs.release).toBe(`5001-1-${sha.slice(0, 12)}`)
    const again = await run({
      on: [host],
      remote,
      sha,
      runId: '5001',
      attempt: '2',
      files: { 'a.txt': '2' }
    })
    expect(again.outputs.status).toBe('staged')
    expect(again.outputs.release).toBe(`5001-2-${sha.slice(0, 12)}`)
    // The same attempt once more (two jobs of one run on the same hosts): refused, nothing removed.
    const clash = await run({ on: [host], remote, sha, runId: '5001', files: { 'a.txt': 'other' } })
    expect(clash.exitCode).toBe(1)
    expect(clash.log).toContain(`release 5001-1-${sha.slice(0, 12)} already exists`)
    expect(releases(remote)).toEqual([first.outputs.release, again.outputs.release].sort())
    expect(readRemote(remote, 'releases', first.outputs.release ?? '', 'a.txt')).toBe('1')
  })

  it('order releases by when they were stored: the newest is the base and survives pruning', async () => {
    const [host] = hosts
    if (!host) throw new Error('no host')
    const remote = await makeTestDir(host)
    const files = { 'same.txt': 'x'.repeat(1000), 'v.txt': '1' }
    // A later run of the repository can have an id that sorts first ("100…" < "9…").
    const older = await run({ on: [host], remote, sha: nextSha(), runId: '9000', files })
    const newer = await run({
      on: [host],
      remote,
      sha: nextSha(),
      runId: '100000',
      files: { ...files, 'v.txt': '2' }
    })
    const third = await run({
      on: [host],
      remote,
      sha: nextSha(),
      runId: '100001',
      files: { ...files, 'v.txt': '3' },
      inputs: { 'keep-releases': '2' }
    })
    expect(third.log).toContain(`reused from ${newer.outputs.release ?? '?'}`)
    expect(third.outputs['files-reused']).toBe('1')
    // keep 2 (the two newest): the oldest one stored goes, though its id sorts last.
    expect(releases(remote)).toEqual([newer.outputs.release, third.outputs.release].sort())
    expect(releases(remote)).not.toContain(older.outputs.release)
  })

  it('are the same in every shard of a run, so one promote by id or sha switches every host', async () => {
    const unique = `app-${randomBytes(4).toString('hex')}`
    const sha = nextSha()
    try {
      // Two jobs of run 7001 (a matrix), each staging the same commit on its own host.
      const shards = await Promise.all(
        hosts.map(host =>
          run({ on: [host], remote: unique, sha, runId: '7001', files: { 'a.txt': sha } })
        )
      )
      const ids = shards.map(s => s.outputs.release)
      expect(new Set(ids).size).toBe(1)
      // The gated job promotes by id over every host.
      const promoted = await run({
        on: hosts,
        remote: unique,
        sha: nextSha(),
        runId: '7001',
        inputs: { promote: ids[0] ?? '', build: 'true' }
      })
      expect(promoted.log).not.toMatch(/::error::.*/)
      expect(promoted.outputs).toMatchObject({ status: 'deployed', release: ids[0], sha })
      for (const host of hosts) expect(liveRelease(path.join(host.home, unique))).toBe(ids[0])

      // Another commit staged by two shards of the next run, promoted by sha.
      const next = nextSha()
      await Promise.all(
        hosts.map(host =>
          run({ on: [host], remote: unique, sha: next, runId: '7002', files: { 'a.txt': next } })
        )
      )
      const bySha = await run({
        on: hosts,
        remote: unique,
        sha: nextSha(),
        runId: '7003',
        inputs: { promote: next, build: 'true' }
      })
      expect(bySha.outputs).toMatchObject({ status: 'deployed', sha: next })
      for (const host of hosts) {
        expect(liveRelease(path.join(host.home, unique))).toBe(`7002-1-${next.slice(0, 12)}`)
      }
    } finally {
      for (const host of hosts)
        rmSync(path.join(host.home, unique), { recursive: true, force: true })
    }
  })
})
