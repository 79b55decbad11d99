/**
 * A deploy lands in `remote-path` or fails naming it, against a real sshd as an unprivileged
 * user: paths it cannot create, paths that read as options, a missing home directory, a server
 * that stops reading mid-upload, and a dry run that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import {
  deploy,
  history,
  liveRelease,
  lockHeld,
  releases,
  workspaceWith,
  writeArtifact
} from '../rig/deploy.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'
import { countTurns } from '../rig/turn-counter.js'
import { spawn } from 'node:child_process'

let sshd: Sshd

beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(async () => {
  await stopAllSshd()
})

/** Names of the entries in `dir`. */
const entries = (dir: string): string[] => readdirSync(dir).sort()

describe('a remote-path the user cannot use', () => {
  it('fails naming the path and the reason when its parent is not writable, and deploys nowhere else', async () => {
    const root = await makeTestDir()
    const locked = path.join(root, 'srv')
    mkdirSync(locked)
    chmodSync(locked, 0o555) // like /srv owned by root: the login user cannot create in it
    const homeBefore = entries(sshd.home)
    const result = await deploy(
      sshd,
      workspaceWith({ 'index.html': 'x' }),
      path.join(locked, 'app')
    )
    expect(result.exitCode).toBe(1)
    expect(result.outputs.status).toBe('failed')
    expect(result.log).toMatch(/cannot create remote-path \/\S+\/srv\/app: .*Permission denied/)
    expect(entries(locked)).toEqual([])
    expect(entries(sshd.home)).toEqual(homeBefore)
  })

  it('fails naming the path when it is a file', async () => {
    const root = await makeTestDir()
    const file = path.join(root, 'app')
    writeFileSync(file, 'not a directory')
    const result = await deploy(sshd, workspaceWith({ 'index.html': 'x' }), file)
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(`remote-path ${file} exists and is not a directory`)
  })

  it('fails when the home directory is missing instead of deploying into /', async () => {
    const homeless = await startSshd({
      extraConfig: [
        'ForceCommand HOME=/nonexistent-gd-home; export HOME; cd /; eval "$SSH_ORIGINAL_COMMAND"'
      ]
    })
    const result = await deploy(homeless, workspaceWith({ 'index.html': 'x' }), 'app')
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      "the login user's home directory (/nonexistent-gd-home) does not exist"
    )
    expect(existsSync('/app')).toBe(false)
  })
})

describe('paths that read as options', () => {
  it.each(['-P', '--', '-x;touch pwned'])(
    'deploys `%s` into a directory of that name in the home directory',
    async name => {
      const unique = `${name}-${randomBytes(3).toString('hex')}`
      const target = path.join(sshd.home, unique)
      try {
        const result = await deploy(sshd, workspaceWith({ 'index.html': name }), unique)
        expect(result.log).not.toContain('::error::')
        expect(result.exitCode).toBe(0)
        expect(liveRelease(target)).toBe(result.outputs.release)
        expect(existsSync(path.join(sshd.home, 'releases'))).toBe(false)
        expect(existsSync(path.join(sshd.home, 'pwned'))).toBe(false)
      } finally {
        rmSync(target, { recursive: true, force: true })
      }
    }
  )

  it('normalises `.` segments and repeated slashes', async () => {
    const root = await makeTestDir()
    const result = await deploy(sshd, workspaceWith({ 'index.html': 'x' }), `${root}/./app//.`)
    expect(result.exitCode).toBe(0)
    expect(liveRelease(path.join(root, 'app'))).toBe(result.outputs.release)
    expect(entries(root)).toEqual(['app'])
  })
})

describe('a server that stops reading mid-upload', () => {
  it('fails in seconds naming the cause, keeps the previous release, removes the partial one and releases the lock', async () => {
    // 2,000 blocks of 512 bytes at most per file written by the session (`ulimit -f`).
    const limited = await startSshd({
      extraConfig: ['ForceCommand ulimit -f 2000; eval "$SSH_ORIGINAL_COMMAND"']
    })
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'index.html': 'v1' })
    const first = await deploy(limited, ws, remote)
    expect(first.exitCode).toBe(0)
    const live = first.outputs.release
    writeArtifact(ws, { 'big.bin': randomBytes(8 << 20).toString('base64') })
    const started = Date.now()
    const second = await deploy(limited, ws, remote)
    expect(Date.now() - started).toBeLessThan(30_000) // a hang would be cut by the test's own limit
    expect(second.exitCode).toBe(1)
    expect(second.log).toMatch(/staging release \S+ failed .*(File too large|unpacking)/)
    expect(liveRelease(remote)).toBe(live)
    expect(releases(remote)).toEqual([live])
    expect(lockHeld(remote)).toBe(false)
    expect(history(remote).at(-1)?.event).toBe('failure')
    // The next run works.
    writeArtifact(ws, { 'big.bin': 'small now' })
    const third = await deploy(limited, ws, remote)
    expect(third.exitCode).toBe(0)
  })
})

describe('dry run', () => {
  it('changes nothing on the server and says what a real run would do', async () => {
    const root = await makeTestDir()
    const remote = path.join(root, 'fresh', 'app')
    const result = await deploy(sshd, workspaceWith({ 'index.html': 'x' }), remote, {
      'dry-run': 'true'
    })
    expect(result.log).not.toContain('::error::')
    expect(result.outputs.status).toBe('dry-run')
    expect(result.log).toContain('does not exist yet; a real run creates it')
    expect(entries(root)).toEqual([])
  })

  it('reports a held lock without taking, breaking or writing anything', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'index.html': 'v1' })
    expect((await deploy(sshd, ws, remote)).exitCode).toBe(0)
    mkdirSync(path.join(remote, '.gated-deploy', 'lock'))
    writeFileSync(path.join(remote, '.gated-deploy', 'lock', 'owner.json'), '{"actor":"someone"}')
    mkdirSync(path.join(remote, 'releases', '20200101000000-abc.partial'))
    const before = history(remote).length
    const result = await deploy(sshd, ws, remote, { 'dry-run': 'true' })
    expect(result.outputs.status).toBe('dry-run')
    expect(result.log).toMatch(/dry run: the deploy lock is held by someone/)
    expect(existsSync(path.join(remote, 'releases', '20200101000000-abc.partial'))).toBe(true)
    expect(history(remote).length).toBe(before)
    expect(lockHeld(remote)).toBe(true)
  })

  it('fails like a real run when the remote-path cannot be created', async () => {
    const root = await makeTestDir()
    chmodSync(root, 0o555)
    const result = await deploy(
      sshd,
      workspaceWith({ 'index.html': 'x' }),
      path.join(root, 'app'),
      {
        'dry-run': 'true'
      }
    )
    expect(result.exitCode).toBe(1)
    expect(result.log).toMatch(/cannot create remote-path \S+\/app: \S+ is not writable/)
  })
})

describe('round trips', () => {
  /** The sessions (channels) sshd started since `from` in its log: one per exec. */
  const sessions = (server: Sshd, from: number): string[] =>
    server
      .logs()
      .slice(from)
      .split('\n')
      .filter(line => /Starting session: command/.test(line))

  it('a one-host deploy uses one connection and one exec (lock, stage, store, switch, prune, unlock)', async () => {
    const server = await startSshd()
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'index.html': 'v1' })
    const before = server.logs().length
    const first = await deploy(server, ws, remote)
    expect(first.exitCode).toBe(0)
    const log = server.logs().slice(before)
    expect(log.match(/Accepted publickey/g)).toHaveLength(1)
    // The key's request is signed from the first: no query answered with PK_OK ("Postponed").
    expect(log.match(/Accepted key /g)).toHaveLength(1)
    expect(log).not.toMatch(/Postponed publickey/)
    expect(sessions(server, before)).toHaveLength(1)
    writeArtifact(ws, { 'index.html': 'v2' })
    const mark = server.logs().length
    const second = await deploy(server, ws, remote)
    expect(second.exitCode).toBe(0)
    expect(second.outputs['files-reused']).toBe('0')
    expect(sessions(server, mark)).toHaveLength(1)
    expect(liveRelease(remote)).toBe(second.outputs.release)
  })

  it('a whole one-host deploy waits for fewer round trips than OpenSSH takes to run `true`', async () => {
    const counter = await countTurns(sshd, 250)
    try {
      // OpenSSH's client through the same proxy, the host key pinned for the proxy's port.
      const dir = await makeTestDir()
      const knownHosts = path.join(dir, 'known_hosts')
      writeFileSync(knownHosts, `${counter.via.knownHostsLine}\n`)
      // Spawned, not spawnSync: the proxy runs in this process.
      const status = await new Promise<number | null>((resolve, reject) => {
        const ssh = spawn(
          'ssh',
          [
            ...['-p', String(counter.via.port), '-i', sshd.privateKeyPath],
            ...['-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes'],
            ...['-o', 'BatchMode=yes', `${sshd.username}@127.0.0.1`, 'true']
          ],
          { stdio: 'ignore' }
        )
        ssh.on('error', reject)
        ssh.on('close', resolve)
      })
      expect(status).toBe(0)
      const openssh = counter.turns()
      const remote = path.join(await makeTestDir(), 'site')
      const result = await deploy(counter.via, workspaceWith({ 'index.html': 'v1' }), remote)
      expect(result.exitCode).toBe(0)
      expect(liveRelease(remote)).toBe(result.outputs.release)
      const ours = counter.turns() - openssh
      // Handshake 2, login 1 (the channel opens with it), exec 1, upload 1, switch 1, close 1: 7
      // on a quiet machine, where OpenSSH took 10 for `true`. One turn of slack: on a loaded
      // machine a write the client pipelines can come later than the held answer it did not wait for.
      expect(ours).toBeLessThanOrEqual(8)
      expect(ours).toBeLessThan(openssh)
    } finally {
      await counter.close()
    }
  })
})
