/** End-to-end deploys through dist/index.js against a real OpenSSH sshd on 127.0.0.1. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, lstatSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import {
  deploy,
  history,
  isSymlink,
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
import { makeKeyPair, makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

let sshd: Sshd

beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(async () => {
  await stopAllSshd()
})

describe('deployment mode', () => {
  it('makes a first release, switches current to it, records history and releases the lock', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'index.html': '<h1>v1</h1>', 'assets/app.js': 'console.log(1)' })
    const result = await deploy(sshd, ws, remote)
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('deployed')
    const release = result.outputs.release ?? ''
    expect(release).toBe(`1234567890-1-${(result.outputs.sha ?? '').slice(0, 12)}`)
    expect(liveRelease(remote)).toBe(release)
    expect(readRemote(remote, 'current', 'index.html')).toBe('<h1>v1</h1>')
    expect(readRemote(remote, 'current', 'assets', 'app.js')).toBe('console.log(1)')
    expect(result.outputs['files-uploaded']).toBe('2')
    expect(result.outputs['files-reused']).toBe('0')
    expect(Number(result.outputs['bytes-uploaded'])).toBeGreaterThan(0)
    expect(result.outputs['previous-release']).toBe('')
    expect(history(remote).map(h => h.event)).toEqual(['stage', 'activate'])
    expect(
      JSON.parse(readRemote(remote, '.gated-deploy', 'releases', `${release}.json`))
    ).toMatchObject({
      release,
      entries: expect.arrayContaining([
        expect.objectContaining({ path: 'index.html', type: 'file' })
      ])
    })
    expect(lockHeld(remote)).toBe(false)
    expect(releases(remote)).toEqual([release])
    expect(result.summary).toContain(release)
  })

  it('sends only changed files the second time and never alters the previous release', async () => {
    const remote = await makeTestDir()
    const files: Record<string, string> = {
      'changed.txt': 'old',
      'same-a.txt': 'a'.repeat(5000),
      'same-b.txt': 'b'
    }
    const ws = workspaceWith(files)
    const first = await deploy(sshd, ws, remote)
    expect(first.exitCode).toBe(0)
    const firstRelease = first.outputs.release ?? ''
    writeArtifact(ws, { 'changed.txt': 'new' })
    const second = await deploy(sshd, ws, remote)
    expect(second.exitCode).toBe(0)
    expect(second.outputs['files-uploaded']).toBe('1')
    // One 3-byte file travels: one 10 KB tar record and the names of the two reused files,
    // not a padded 256 KB.
    expect(Number(second.outputs['bytes-uploaded'])).toBeLessThanOrEqual(10_240 + 100)
    expect(second.outputs['files-reused']).toBe('2')
    expect(second.outputs['previous-release']).toBe(firstRelease)
    expect(readRemote(remote, 'current', 'changed.txt')).toBe('new')
    expect(readRemote(remote, 'releases', firstRelease, 'changed.txt')).toBe('old')
    const reused = statSync(path.join(remote, 'current', 'same-a.txt'))
    expect(reused.ino).toBe(statSync(path.join(remote, 'releases', firstRelease, 'same-a.txt')).ino)
    expect(readRemote(remote, '.gated-deploy', 'previous').trim()).toBe(firstRelease)
  })

  it.each([
    ['corrupt', '{"version":1,"release":'],
    ['foreign', '{"version":7,"entries":"not a list"}'],
    [
      'hostile',
      '{"version":1,"release":"RELEASE","entries":[{"type":"file","path":"../../etc/x","mode":420,"size":1,"sha256":"zz"}]}'
    ]
  ])('deploys in full, with a warning, when the base manifest is %s', async (_kind, text) => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': 'a', 'b.txt': 'b' })
    const first = await deploy(sshd, ws, remote)
    const base = first.outputs.release ?? ''
    writeFileSync(
      path.join(remote, '.gated-deploy', 'releases', `${base}.json`),
      text.replace('RELEASE', base)
    )
    writeArtifact(ws, { 'b.txt': 'b2' })
    const second = await deploy(sshd, ws, remote)
    expect(second.exitCode).toBe(0)
    expect(second.log).toContain(`the manifest of ${base} cannot be used`)
    expect(second.outputs['files-uploaded']).toBe('2')
    expect(second.outputs['files-reused']).toBe('0')
    expect(readRemote(remote, 'current', 'b.txt')).toBe('b2')
  })

  it('sends a file again when its copy in the previous release was changed on the server', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'config.txt': 'as built', 'app.txt': 'v1' })
    const first = await deploy(sshd, ws, remote)
    expect(first.exitCode).toBe(0)
    const firstRelease = first.outputs.release ?? ''
    // A hook (or a person) edits a shipped file in the live release, in place.
    const edited = path.join(remote, 'releases', firstRelease, 'config.txt')
    writeFileSync(edited, 'edited on the server')
    writeArtifact(ws, { 'app.txt': 'v2' })
    const second = await deploy(sshd, ws, remote)
    expect(second.exitCode).toBe(0)
    expect(second.log).toContain(
      `1 file of ${firstRelease} changed on the server after it was verified`
    )
    expect(second.outputs['files-uploaded']).toBe('2')
    expect(second.outputs['files-reused']).toBe('0')
    expect(readRemote(remote, 'current', 'config.txt')).toBe('as built')
    expect(readRemote(remote, 'current', 'app.txt')).toBe('v2')
    expect(readRemote(remote, 'releases', firstRelease, 'config.txt')).toBe('edited on the server')
  })

  it('ships every kind of file intact and honours exclude', async () => {
    const remote = await makeTestDir()
    const odd = 'it\'s a "quoted" name with spaces & $(dollar) `tick` — ünïcødé 日本.txt'
    const ws = workspaceWith({
      '.env.example': 'DOTFILE=1',
      '.well-known/security.txt': 'Contact: x',
      'bin/start.sh': '#!/bin/sh\necho start',
      [odd]: 'odd',
      // Names that hashing tools escape: they take sha256sum's NUL-separated path.
      'back\\slash.txt': 'backslash',
      'new\nline/file\nname.txt': 'newline',
      'debug.map': 'excluded',
      'assets/app.js.map': 'excluded',
      'node_modules/pkg/index.js': 'excluded',
      'keep.txt': 'kept'
    })
    makeExecutable(ws, 'bin/start.sh')
    makeSymlink(ws, 'latest', 'bin/start.sh')
    makeSymlink(ws, 'dangling', '/nonexistent/target')
    makeEmptyDir(ws, 'empty/dir')
    const result = await deploy(sshd, ws, remote, { exclude: '*.map\nnode_modules/' })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    const live = path.join(remote, 'current')
    expect(readRemote(remote, 'current', '.env.example')).toBe('DOTFILE=1')
    expect(readRemote(remote, 'current', '.well-known', 'security.txt')).toBe('Contact: x')
    expect(readRemote(remote, 'current', odd)).toBe('odd')
    expect(readRemote(remote, 'current', 'back\\slash.txt')).toBe('backslash')
    expect(readRemote(remote, 'current', 'new\nline', 'file\nname.txt')).toBe('newline')
    expect(statSync(path.join(live, 'bin', 'start.sh')).mode & 0o777).toBe(0o755)
    expect(statSync(path.join(live, 'keep.txt')).mode & 0o111).toBe(0)
    expect(lstatSync(path.join(live, 'latest')).isSymbolicLink()).toBe(true)
    expect(isSymlink(path.join(live, 'dangling'))).toBe(true)
    expect(statSync(path.join(live, 'empty', 'dir')).isDirectory()).toBe(true)
    expect(existsSync(path.join(live, 'debug.map'))).toBe(false)
    expect(existsSync(path.join(live, 'assets', 'app.js.map'))).toBe(false)
    expect(existsSync(path.join(live, 'node_modules'))).toBe(false)
  })

  it('keeps shared-paths across three deploys, never overwritten by the artifact', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({
      'index.html': 'v1',
      'storage/from-artifact.txt': 'artifact',
      '.env': 'FROM_ARTIFACT=1'
    })
    const sharedInputs = { 'shared-paths': 'storage\n.env' }
    expect((await deploy(sshd, ws, remote, sharedInputs)).exitCode).toBe(0)
    expect(isSymlink(path.join(remote, 'current', 'storage'))).toBe(true)
    expect(readRemote(remote, 'shared', '.env')).toBe('')
    writeFileSync(path.join(remote, 'shared', 'storage', 'upload.png'), 'user upload')
    writeFileSync(path.join(remote, 'shared', '.env'), 'SECRET=server')
    for (const version of ['v2', 'v3']) {
      writeArtifact(ws, { 'index.html': version })
      const result = await deploy(sshd, ws, remote, sharedInputs)
      expect(result.exitCode).toBe(0)
      expect(readRemote(remote, 'current', 'index.html')).toBe(version)
    }
    expect(readRemote(remote, 'current', 'storage', 'upload.png')).toBe('user upload')
    expect(readRemote(remote, 'current', '.env')).toBe('SECRET=server')
    expect(existsSync(path.join(remote, 'shared', 'storage', 'from-artifact.txt'))).toBe(false)
  })

  it('prunes to keep-releases, never the live or previous one', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '0' })
    const made: string[] = []
    for (let i = 1; i <= 5; i++) {
      writeArtifact(ws, { 'a.txt': String(i) })
      const result = await deploy(sshd, ws, remote, { 'keep-releases': '3' })
      expect(result.exitCode).toBe(0)
      made.push(result.outputs.release ?? '')
    }
    expect(releases(remote)).toEqual(made.slice(-3))
    expect(liveRelease(remote)).toBe(made[4])
    expect(readdirSync(path.join(remote, '.gated-deploy', 'releases')).sort()).toEqual(
      made.slice(-3).map(r => `${r}.json`)
    )
    // Roll back to an older release, then deploy with keep 2: the rolled-back-to release is
    // now the previous one and outlives a newer one.
    const back = await deploy(sshd, ws, remote, { rollback: made[2] ?? '', 'keep-releases': '3' })
    expect(back.exitCode).toBe(0)
    expect(liveRelease(remote)).toBe(made[2])
    writeArtifact(ws, { 'a.txt': '6' })
    const sixth = await deploy(sshd, ws, remote, { 'keep-releases': '2' })
    expect(sixth.exitCode).toBe(0)
    expect(sixth.log).toContain(`pruned ${made[3] ?? '?'}`)
    expect(releases(remote)).toEqual([made[2], made[4], sixth.outputs.release])
  })

  it('refuses to deploy while another run holds the lock, naming the holder', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    const first = await deploy(sshd, ws, remote)
    expect(first.exitCode).toBe(0)
    const lockDir = path.join(remote, '.gated-deploy', 'lock')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(lockDir)
    writeFileSync(
      path.join(lockDir, 'owner.json'),
      JSON.stringify({
        runId: '999',
        attempt: 1,
        actor: 'octocat',
        started: '2026-11-28T10:00:00Z',
        runUrl: 'https://github.com/o/r/actions/runs/999',
        sha: 'f'.repeat(40)
      })
    )
    writeArtifact(ws, { 'a.txt': '2' })
    const second = await deploy(sshd, ws, remote)
    expect(second.exitCode).toBe(1)
    expect(second.log).toContain('another deploy is running')
    expect(second.log).toContain(
      'held by octocat since 2026-11-28T10:00:00Z (run https://github.com/o/r/actions/runs/999'
    )
    expect(liveRelease(remote)).toBe(first.outputs.release)
    expect(releases(remote)).toEqual([first.outputs.release])
    expect(existsSync(path.join(lockDir, 'owner.json'))).toBe(true) // someone else's lock is left alone
  })

  it('leaves current alone and cleans up when before-activate fails', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    const first = await deploy(sshd, ws, remote)
    writeArtifact(ws, { 'a.txt': '2' })
    const second = await deploy(sshd, ws, remote, {
      'before-activate': 'echo "migrating $RELEASE from $PREVIOUS_RELEASE"\nexit 7'
    })
    expect(second.exitCode).toBe(1)
    expect(second.log).toMatch(
      new RegExp(`migrating 1234567890-1-[0-9a-f]{12} from ${first.outputs.release ?? '?'}`)
    )
    expect(second.log).toContain('`before-activate` failed; `current` was not switched')
    expect(liveRelease(remote)).toBe(first.outputs.release)
    expect(releases(remote)).toEqual([first.outputs.release])
    expect(lockHeld(remote)).toBe(false)
    expect(history(remote).map(h => h.event)).toEqual(['stage', 'activate', 'stage', 'failure'])
  })

  it('runs hooks in the new release with RELEASE, RELEASE_PATH, PREVIOUS_RELEASE and SHA, and rolls back when after-activate fails', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    const first = await deploy(sshd, ws, remote, {
      'before-activate': 'echo "$RELEASE|$RELEASE_PATH|$PREVIOUS_RELEASE|$SHA|$PWD" > hook.txt'
    })
    expect(first.exitCode).toBe(0)
    const release = first.outputs.release ?? ''
    const realRemote = path.resolve(remote)
    expect(readRemote(remote, 'current', 'hook.txt').trim()).toBe(
      `${release}|${realRemote}/releases/${release}||${first.outputs.sha ?? ''}|${realRemote}/releases/${release}`
    )
    writeArtifact(ws, { 'a.txt': '2' })
    const second = await deploy(sshd, ws, remote, { 'after-activate': 'test "$(cat a.txt)" = 3' })
    expect(second.exitCode).toBe(1)
    expect(second.log).toContain('`after-activate` failed; `current` was put back as it was')
    expect(liveRelease(remote)).toBe(release)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('1')
  })

  it('fails on a missing artifact before connecting, leaving the server untouched', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    const result = await deploy(sshd, ws, remote, { artifact: 'build' })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('`artifact`: ')
    expect(result.log).toContain('is not a directory after the build')
    expect(result.log).not.toContain('connect')
    expect(readdirSync(remote)).toEqual([])
  })

  it('dry-run connects, takes and releases the lock, reports and changes nothing', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1', 'b.txt': '2' })
    const result = await deploy(sshd, ws, remote, { 'dry-run': 'true' })
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('dry-run')
    expect(result.outputs['files-uploaded']).toBe('2')
    expect(result.outputs['bytes-uploaded']).toBe('0')
    expect(releases(remote)).toEqual([])
    expect(liveRelease(remote)).toBeUndefined()
    expect(lockHeld(remote)).toBe(false)
  })

  it('delivery mode stages the release without switching current', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    const result = await deploy(sshd, ws, remote, { mode: 'delivery' })
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('staged')
    expect(releases(remote)).toEqual([result.outputs.release])
    expect(liveRelease(remote)).toBeUndefined()
  })
})

describe('connection safety', () => {
  it('refuses an unknown host key before sending anything, printing its fingerprint and the line to pin', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    const result = await deploy(sshd, ws, remote, { 'known-hosts': '' })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      `is not in \`known-hosts\`: it presented ssh-ed25519 ${sshd.hostKeyFingerprint}`
    )
    expect(result.log).toContain(sshd.knownHostsLine)
    expect(readdirSync(remote)).toEqual([])
  })

  it('refuses a changed host key', async () => {
    const remote = await makeTestDir()
    const other = await makeKeyPair()
    const pinned = `[127.0.0.1]:${sshd.port} ${other.publicKey.split(' ').slice(0, 2).join(' ')}`
    const result = await deploy(sshd, workspaceWith({ 'a.txt': '1' }), remote, {
      'known-hosts': pinned
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('has CHANGED')
    expect(result.log).toContain(sshd.hostKeyFingerprint)
    expect(readdirSync(remote)).toEqual([])
  })

  it('accepts a host pinned by SHA256 fingerprint', async () => {
    const remote = await makeTestDir()
    const result = await deploy(sshd, workspaceWith({ 'a.txt': '1' }), remote, {
      'known-hosts': sshd.hostKeyFingerprint
    })
    expect(result.exitCode).toBe(0)
  })

  it('reports a private key the server does not accept as a login refusal', async () => {
    const remote = await makeTestDir()
    const stranger = await makeKeyPair()
    const result = await deploy(sshd, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': stranger.privateKey
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      `${sshd.username}@127.0.0.1:${sshd.port} refused the login with the \`private-key\``
    )
    expect(readdirSync(remote)).toEqual([])
  })

  it('logs in with an encrypted key and its passphrase', async () => {
    const encrypted = await makeKeyPair({ passphrase: 'open sesame' })
    const server = await startSshd({ authorizedKeys: [encrypted.publicKey] })
    const remote = await makeTestDir()
    const result = await deploy(server, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': encrypted.privateKey,
      passphrase: 'open sesame'
    })
    expect(result.exitCode).toBe(0)
    const unmasked = result.log.split('\n').filter(line => !line.startsWith('::add-mask::'))
    expect(unmasked.join('\n')).not.toContain('open sesame')
    expect(result.log).toContain('::add-mask::open sesame')
    expect(readRemote(remote, 'current', 'a.txt')).toBe('1')
    await server.stop()
  })

  it('deploys through a jump host', async () => {
    const target = await startSshd()
    const jump = await startSshd({ authorizedKeys: [target.publicKey] })
    const remote = await makeTestDir()
    const result = await deploy(target, workspaceWith({ 'a.txt': 'via jump' }), remote, {
      'jump-host': `${jump.username}@127.0.0.1:${jump.port}`,
      'known-hosts': `${target.knownHostsLine}\n${jump.knownHostsLine}`
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('via jump')
    expect(jump.logs()).toMatch(/direct-tcpip|Accepted publickey/)
    await Promise.all([target.stop(), jump.stop()])
  })

  it('never runs text from remote-path or shared-paths as a command', async () => {
    const base = await makeTestDir()
    const canary = path.join(base, 'canary')
    const remote = path.join(base, `app;touch ${canary};$(touch ${canary})\`touch ${canary}\``)
    const ws = workspaceWith({ 'a.txt': '1' })
    const result = await deploy(sshd, ws, remote, {
      'shared-paths': `x;touch ${canary.slice(1)}\n$(touch canary)`
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(existsSync(canary)).toBe(false)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('1')
    expect(isSymlink(path.join(remote, 'current', '$(touch canary)'))).toBe(true)
  })
})

describe('failure in the middle', () => {
  it('keeps current when sshd dies mid-upload, and the re-run breaks the stale lock and succeeds', async () => {
    const server = await startSshd()
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': 'v1' })
    const first = await deploy(server, ws, remote)
    expect(first.exitCode).toBe(0)
    const big: Record<string, string> = {}
    for (let i = 0; i < 80; i++)
      big[`big/${String(i).padStart(2, '0')}.bin`] = String(i % 10).repeat(1_000_000)
    writeArtifact(ws, { ...big, 'a.txt': 'v2' })
    const run = { GITHUB_RUN_ID: '777', GITHUB_RUN_ATTEMPT: '1' }
    const second = deploy(server, ws, remote, {}, run)
    const partialHasData = (): boolean =>
      releases(remote).some(
        r => r.endsWith('.partial') && existsSync(path.join(remote, 'releases', r, 'big', '00.bin'))
      )
    const deadline = Date.now() + 30_000
    while (!partialHasData() && Date.now() < deadline) await new Promise(r => setTimeout(r, 5))
    expect(partialHasData()).toBe(true)
    await server.kill()
    const failed = await second
    expect(failed.exitCode).toBe(1)
    expect(failed.log).toMatch(/connection (lost|closed)|closed before the command finished/)
    expect(liveRelease(remote)).toBe(first.outputs.release)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('v1')
    expect(lockHeld(remote)).toBe(true) // the dead server could not be cleaned up

    const revived = await startSshd()
    const rerun = await deploy(revived, ws, remote, {}, { ...run, GITHUB_RUN_ATTEMPT: '2' })
    expect(rerun.log).not.toContain('::error::')
    expect(rerun.exitCode).toBe(0)
    expect(rerun.log).toContain('breaking the deploy lock')
    expect(rerun.log).toContain('left by an earlier attempt of this run')
    expect(readRemote(remote, 'current', 'a.txt')).toBe('v2')
    expect(releases(remote).filter(r => r.endsWith('.partial'))).toEqual([])
    expect(lockHeld(remote)).toBe(false)
    await Promise.all([server.stop(), revived.stop()])
  })
})
