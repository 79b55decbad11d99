/**
 * Servers set up the ways real ones are, deployed to through dist/index.js: a jump host that
 * may not forward, several host keys pinned by one type or by a bare SHA256 fingerprint, and
 * a hardened sshd with `MaxSessions 1`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readdirSync } from 'node:fs'
import { deploy, liveRelease, readRemote, workspaceWith, writeArtifact } from '../rig/deploy.js'
import { startJumpHost, startMaxSessionsServer } from '../rig/server-kinds.js'
import { makeKeyPair, makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

let target: Sshd
let closedJump: Sshd
let openJump: Sshd
let multiKey: Sshd
let maxSessions: Sshd

beforeAll(async () => {
  target = await startSshd()
  ;[closedJump, openJump, multiKey, maxSessions] = await Promise.all([
    startJumpHost(false, { authorizedKeys: [target.publicKey] }),
    startJumpHost(true, { authorizedKeys: [target.publicKey] }),
    startSshd({ extraHostKeyTypes: ['rsa', 'ecdsa'] }),
    startMaxSessionsServer()
  ])
})
afterAll(async () => {
  await stopAllSshd()
})

/** The number of SSH connections a server has seen so far. */
function connectionsTo(server: Sshd): number {
  return server
    .logs()
    .split('\n')
    .filter(line => line.includes('Connection from')).length
}

describe('jump hosts', () => {
  it('AllowTcpForwarding no: fails naming the jump host, the target, AllowTcpForwarding and the fix', async () => {
    const remote = await makeTestDir()
    const result = await deploy(target, workspaceWith({ 'a.txt': '1' }), remote, {
      'jump-host': `${closedJump.username}@127.0.0.1:${closedJump.port}`,
      'known-hosts': `${target.knownHostsLine}\n${closedJump.knownHostsLine}`
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      `The jump host ${closedJump.username}@127.0.0.1:${closedJump.port} refused to forward to 127.0.0.1:${target.port} (AllowTcpForwarding)`
    )
    expect(result.log).toContain('set `AllowTcpForwarding yes`')
    expect(closedJump.logs()).toContain('refused local port forward')
    expect(readdirSync(remote)).toEqual([])
  })

  it('the same target through a jump host that forwards deploys (control)', async () => {
    const remote = await makeTestDir()
    const result = await deploy(target, workspaceWith({ 'a.txt': 'via jump' }), remote, {
      'jump-host': `${openJump.username}@127.0.0.1:${openJump.port}`,
      'known-hosts': `${target.knownHostsLine}\n${openJump.knownHostsLine}`
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('via jump')
  })
})

describe('host keys of several types', () => {
  const key = (type: string): { fingerprint: string; knownHostsLine: string } => {
    const found = multiKey.hostKeys.find(hostKey => hostKey.type === type)
    if (found === undefined) throw new Error(`the rig server has no ${type} host key`)
    return found
  }

  it('the server has ed25519 (preferred), RSA and ECDSA keys', () => {
    expect(multiKey.hostKeys.map(hostKey => hostKey.type)).toEqual([
      'ssh-ed25519',
      'ssh-rsa',
      'ecdsa-sha2-nistp256'
    ])
  })

  it.each([
    ['a SHA256 fingerprint of its ECDSA key', 'ecdsa-sha2-nistp256', 'fingerprint', 2],
    ['a SHA256 fingerprint of its RSA key', 'ssh-rsa', 'fingerprint', 3],
    ['a full known_hosts line of its ECDSA key', 'ecdsa-sha2-nistp256', 'line', 1],
    ['a full known_hosts line of its RSA key', 'ssh-rsa', 'line', 1]
  ] as const)(
    'pinned by %s: deploys, no alarm (connections: %s/%s → %i)',
    async (_name, type, form, connections) => {
      const remote = await makeTestDir()
      const pin = form === 'line' ? key(type).knownHostsLine : key(type).fingerprint
      const before = connectionsTo(multiKey)
      const result = await deploy(multiKey, workspaceWith({ 'a.txt': type }), remote, {
        'known-hosts': pin
      })
      expect(result.log).not.toContain('CHANGED')
      expect(result.log).not.toContain('::error::')
      expect(result.exitCode).toBe(0)
      expect(readRemote(remote, 'current', 'a.txt')).toBe(type)
      // One connection per key type asked for before the pinned one came.
      expect(connectionsTo(multiKey) - before).toBe(connections)
    }
  )

  it('a fingerprint none of its keys has: the CHANGED alarm, listing each key it has', async () => {
    const remote = await makeTestDir()
    const stranger = await makeKeyPair({ type: 'ecdsa' })
    const result = await deploy(multiKey, workspaceWith({ 'a.txt': '1' }), remote, {
      'known-hosts': stranger.fingerprint
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(`The host key of 127.0.0.1:${multiKey.port} has CHANGED`)
    for (const hostKey of multiKey.hostKeys) {
      expect(result.log).toContain(`${hostKey.type} ${hostKey.fingerprint}`)
    }
    expect(readdirSync(remote)).toEqual([])
  })

  it('a full line of its ECDSA type holding another key: the CHANGED alarm at once', async () => {
    const remote = await makeTestDir()
    const stranger = await makeKeyPair({ type: 'ecdsa' })
    const line = `[127.0.0.1]:${multiKey.port} ${stranger.publicKey.split(' ').slice(0, 2).join(' ')}`
    const before = connectionsTo(multiKey)
    const result = await deploy(multiKey, workspaceWith({ 'a.txt': '1' }), remote, {
      'known-hosts': line
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('has CHANGED')
    expect(result.log).toContain(key('ecdsa-sha2-nistp256').fingerprint)
    expect(connectionsTo(multiKey) - before).toBe(1)
    expect(readdirSync(remote)).toEqual([])
  })
})

describe('MaxSessions 1', () => {
  it('deploys several times in a row and rolls back, every run succeeding', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': 'one' })
    const made: string[] = []
    for (const content of ['one', 'two', 'three', 'four']) {
      writeArtifact(ws, { 'a.txt': content, [`${content}.txt`]: content })
      const result = await deploy(maxSessions, ws, remote)
      expect(result.log).not.toContain('::error::')
      expect(result.exitCode).toBe(0)
      made.push(result.outputs.release ?? '')
    }
    expect(readRemote(remote, 'current', 'a.txt')).toBe('four')
    const back = await deploy(maxSessions, workspaceWith({}), remote, { rollback: 'true' })
    expect(back.log).not.toContain('::error::')
    expect(back.outputs).toMatchObject({ status: 'rolled-back', release: made[2] })
    expect(liveRelease(remote)).toBe(made[2])
    expect(readRemote(remote, 'current', 'a.txt')).toBe('three')
    const again = await deploy(maxSessions, ws, remote)
    expect(again.exitCode).toBe(0)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('four')
  })
})
