/**
 * Issue 10's matrix, end to end through the bundle: every kind of server people run, each a real
 * server started here. On each: a first deploy, an incremental one that reuses unchanged files,
 * a rollback, and every kind of file. Then the setups that used to break the deploy: a greeting
 * printed by the login shell, a full disk, a file size limit, an SFTP-only account.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, lstatSync, statSync } from 'node:fs'
import path from 'node:path'
import {
  deploy,
  history,
  liveRelease,
  lockHeld,
  makeEmptyDir,
  makeExecutable,
  makeSymlink,
  readRemote,
  releases,
  workspaceWith,
  writeArtifact
} from '../rig/deploy.js'
import {
  makeSmallDisk,
  SERVER_MATRIX,
  startFileSizeLimitedServer,
  startGreetingServer,
  startSftpOnlyServer
} from '../rig/server-kinds.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

afterAll(async () => {
  await stopAllSshd()
})

const ODD = 'it\'s a "quoted" name & $(dollar) `tick` ünïcødé.txt'

/** A build with every kind of entry: dotfiles, odd names, modes, symlinks, an empty directory. */
function everyKind(version: string): string {
  const ws = workspaceWith({
    'index.html': `<h1>${version}</h1>`,
    '.env.example': 'DOTFILE=1',
    '.well-known/security.txt': 'Contact: x',
    'bin/start.sh': '#!/bin/sh\necho start',
    [ODD]: 'odd',
    'back\\slash.txt': 'backslash',
    'new\nline/file\nname.txt': 'newline',
    '-starts-with-dash.txt': 'dash',
    'assets/app.js': `console.log(${JSON.stringify(version)})`,
    ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`static/${i}.css`, `.c${i}{}`]))
  })
  makeExecutable(ws, 'bin/start.sh')
  makeSymlink(ws, 'latest', 'bin/start.sh')
  makeEmptyDir(ws, 'empty/dir')
  return ws
}

describe.each(SERVER_MATRIX)('on $name', kind => {
  let server: Sshd
  beforeAll(async () => {
    server = await kind.start()
  })

  it('deploys, deploys again reusing what did not change, and rolls back', async () => {
    const remote = await makeTestDir(server)
    const ws = everyKind('v1')
    const first = await deploy(server, ws, remote)
    expect(first.log).not.toContain('::error::')
    expect(first.exitCode).toBe(0)
    const live = path.join(remote, 'current')
    expect(readRemote(remote, 'current', 'index.html')).toBe('<h1>v1</h1>')
    expect(readRemote(remote, 'current', '.env.example')).toBe('DOTFILE=1')
    expect(readRemote(remote, 'current', ODD)).toBe('odd')
    expect(readRemote(remote, 'current', 'back\\slash.txt')).toBe('backslash')
    expect(readRemote(remote, 'current', 'new\nline', 'file\nname.txt')).toBe('newline')
    expect(readRemote(remote, 'current', '-starts-with-dash.txt')).toBe('dash')
    expect(statSync(path.join(live, 'bin', 'start.sh')).mode & 0o777).toBe(0o755)
    expect(statSync(path.join(live, 'index.html')).mode & 0o777).toBe(0o644)
    expect(lstatSync(path.join(live, 'latest')).isSymbolicLink()).toBe(true)
    expect(statSync(path.join(live, 'empty', 'dir')).isDirectory()).toBe(true)

    writeArtifact(ws, { 'index.html': '<h1>v2</h1>' })
    const second = await deploy(server, ws, remote)
    expect(second.log).not.toContain('::error::')
    expect(second.exitCode).toBe(0)
    expect(second.outputs['files-uploaded']).toBe('1')
    expect(Number(second.outputs['files-reused'])).toBeGreaterThan(20)
    expect(readRemote(remote, 'current', 'index.html')).toBe('<h1>v2</h1>')
    const [one, two] = [first.outputs.release ?? '', second.outputs.release ?? '']
    // Reused files are hard links into the first release, which is intact.
    const inode = (release: string): number =>
      statSync(path.join(remote, 'releases', release, 'static', '3.css')).ino
    expect(inode(two)).toBe(inode(one))
    expect(readRemote(remote, 'releases', one, 'index.html')).toBe('<h1>v1</h1>')

    const back = await deploy(server, workspaceWith({}), remote, {
      rollback: 'true',
      build: 'true'
    })
    expect(back.log).not.toContain('::error::')
    expect(back.outputs).toMatchObject({ status: 'rolled-back', release: one })
    expect(readRemote(remote, 'current', 'index.html')).toBe('<h1>v1</h1>')
    expect(lockHeld(remote)).toBe(false)
  })
})

describe('a login shell that prints a greeting', () => {
  it.each(['bashrc', 'ssh-rc'] as const)('changes nothing (greeting from %s)', async how => {
    const server = await startGreetingServer(how)
    const remote = await makeTestDir(server)
    const ws = everyKind('greeted')
    const first = await deploy(server, ws, remote)
    expect(first.log).not.toContain('::error::')
    expect(first.exitCode).toBe(0)
    writeArtifact(ws, { 'index.html': 'again' })
    const second = await deploy(server, ws, remote)
    expect(second.exitCode).toBe(0)
    expect(Number(second.outputs['files-reused'])).toBeGreaterThan(20)
    expect(readRemote(remote, 'current', 'index.html')).toBe('again')
  })
})

describe('a server that runs out of room', () => {
  let sshd: Sshd
  beforeAll(async () => {
    sshd = await startSshd()
  })

  it('fails in seconds on a full disk, naming it, and leaves the server as it was', async () => {
    const disk = await makeSmallDisk(sshd, 2 * 1024 * 1024)
    try {
      const remote = path.join(disk.path, 'app')
      const ws = workspaceWith({ 'index.html': 'small' })
      const first = await deploy(sshd, ws, remote)
      expect(first.exitCode).toBe(0)
      writeArtifact(ws, { 'big.bin': Buffer.alloc(4 << 20, 7).toString('latin1') })
      const started = Date.now()
      const full = await deploy(sshd, ws, remote)
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(full.exitCode).toBe(1)
      expect(full.log).toMatch(/no space left on the device/i)
      expect(liveRelease(remote)).toBe(first.outputs.release)
      expect(releases(remote)).toEqual([first.outputs.release])
      expect(lockHeld(remote)).toBe(false)
      writeArtifact(ws, { 'big.bin': 'fits now' })
      expect((await deploy(sshd, ws, remote)).exitCode).toBe(0)
    } finally {
      await disk.stop()
    }
  })

  it('fails naming the file size limit (ulimit -f) and leaves the server as it was', async () => {
    const limited = await startFileSizeLimitedServer(1 << 20)
    const remote = await makeTestDir(limited)
    const ws = workspaceWith({ 'index.html': 'small' })
    const first = await deploy(limited, ws, remote)
    expect(first.exitCode).toBe(0)
    writeArtifact(ws, { 'big.bin': Buffer.alloc(3 << 20, 7).toString('latin1') })
    const big = await deploy(limited, ws, remote)
    expect(big.exitCode).toBe(1)
    expect(big.log).toMatch(/File size limit exceeded|File too large/)
    expect(liveRelease(remote)).toBe(first.outputs.release)
    expect(releases(remote)).toEqual([first.outputs.release])
    expect(lockHeld(remote)).toBe(false)
    expect(history(remote).at(-1)?.event).toBe('failure')
  })
})

describe('an account that allows no commands', () => {
  it('fails naming the SFTP-only account and what the action needs', async () => {
    const server = await startSftpOnlyServer()
    const remote = await makeTestDir(server)
    const result = await deploy(server, workspaceWith({ 'index.html': 'x' }), remote)
    expect(result.exitCode).toBe(1)
    expect(result.log).toMatch(/allows SFTP only .*needs a shell/)
    expect(existsSync(path.join(remote, 'releases'))).toBe(false)
  })
})
