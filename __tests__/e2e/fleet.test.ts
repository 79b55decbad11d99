/**
 * Several hosts in one deploy. Both sshd servers run on this machine as the same user, so each
 * is given its own home directory (where a relative `remote-path` lands) with ForceCommand, as
 * two real servers would have.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { liveRelease, nextSha, readRemote, workspaceWith } from '../rig/deploy.js'
import { runAction, type RunResult } from '../rig/runner.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

interface Host {
  readonly sshd: Sshd
  /** Where `remote-path: app` lands on this host. */
  readonly app: string
}

let hosts: Host[]

async function hostRootedAt(authorizedKeys: string[] = []): Promise<Host> {
  const root = await makeTestDir()
  const sshd = await startSshd({
    authorizedKeys,
    extraConfig: [`ForceCommand HOME=${root}; export HOME; eval "$SSH_ORIGINAL_COMMAND"`]
  })
  return { sshd, app: path.join(root, 'app') }
}

beforeAll(async () => {
  const first = await hostRootedAt()
  // One deploy key for the whole fleet: the second server authorises the first one's key.
  hosts = [first, await hostRootedAt([first.sshd.publicKey])]
})
afterAll(async () => {
  await stopAllSshd()
})

function deployToAll(
  files: Record<string, string>,
  extra: Record<string, string> = {}
): Promise<RunResult> {
  const [a, b] = hosts
  if (!a || !b) throw new Error('hosts not started')
  return runAction({
    workspace: workspaceWith(files),
    inputs: {
      mode: 'deployment',
      hosts: `${a.sshd.username}@127.0.0.1:${a.sshd.port}, ${b.sshd.username}@127.0.0.1:${b.sshd.port}`,
      'private-key': a.sshd.privateKey,
      'known-hosts': `${a.sshd.knownHostsLine}\n${b.sshd.knownHostsLine}`,
      'remote-path': 'app',
      artifact: 'dist',
      ...extra
    },
    env: { GITHUB_SHA: nextSha() }
  })
}

describe('several hosts', () => {
  it('stages on every host, then switches every host to the same release', async () => {
    const result = await deployToAll({ 'index.html': 'fleet v1' })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    const release = result.outputs.release
    for (const host of hosts) {
      expect(liveRelease(host.app)).toBe(release)
      expect(readRemote(host.app, 'current', 'index.html')).toBe('fleet v1')
    }
    expect(result.outputs['files-uploaded']).toBe('2')
  })

  it('activates no host when staging fails on one, and removes the release staged on the others', async () => {
    const [a, b] = hosts
    if (!a || !b) throw new Error('hosts not started')
    const before = liveRelease(a.app)
    mkdirSync(path.join(b.app, 'releases'), { recursive: true })
    chmodSync(path.join(b.app, 'releases'), 0o555)
    try {
      const result = await deployToAll({ 'index.html': 'fleet v2' })
      expect(result.exitCode).toBe(1)
      expect(result.log).toContain(`127.0.0.1:${b.sshd.port}`)
      expect(result.log).not.toContain('::group::activate')
      expect(liveRelease(a.app)).toBe(before)
      expect(readRemote(a.app, 'current', 'index.html')).toBe('fleet v1')
      expect(readdirSync(path.join(a.app, 'releases'))).toEqual([before])
      expect(existsSync(path.join(a.app, '.gated-deploy', 'lock'))).toBe(false)
      expect(existsSync(path.join(b.app, '.gated-deploy', 'lock'))).toBe(false)
    } finally {
      chmodSync(path.join(b.app, 'releases'), 0o755)
    }
  })

  it('switches back the hosts already switched when activation fails on one', async () => {
    const [a, b] = hosts
    if (!a || !b) throw new Error('hosts not started')
    const before = liveRelease(a.app)
    const result = await deployToAll(
      { 'index.html': 'fleet v3' },
      {
        'after-activate': `case "$RELEASE_PATH" in ${b.app}/*) echo "health check failed"; exit 1;; esac`
      }
    )
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('health check failed')
    // The hook's output is in the failure itself, so the report shows it.
    expect(result.summary).toContain('health check failed')
    expect(result.log).toContain(`127.0.0.1:${a.sshd.port}: switched back to ${before ?? '?'}`)
    for (const host of hosts) {
      expect(liveRelease(host.app)).toBe(before)
      expect(readRemote(host.app, 'current', 'index.html')).toBe('fleet v1')
    }
  })
})
