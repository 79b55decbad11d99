/**
 * Big files (DIRECT_BYTES and more, written into the tar stream by the packer after the system
 * tar's members) end to end through the bundle, on every server tar: GNU tar (dash), BusyBox
 * only and bsdtar. Each lands byte for byte with its mode, with names at the 100-byte header
 * field, with a newline, a backslash or a leading dash, and sizes at the edges; a second deploy
 * that changes one big file reuses the rest; a 0555 directory gets its big file. A file taken
 * away after the walk (or a FIFO put in a big file's place) fails the deploy naming it, with the
 * live release, the releases and the lock as they were: no crash, no hang.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import path from 'node:path'
import {
  deploy,
  liveRelease,
  nextSha,
  sshInputs,
  lockHeld,
  readRemote,
  releases,
  workspaceWith
} from '../rig/deploy.js'
import { startBsdtarServer, startBusyboxServer, startDashServer } from '../rig/server-kinds.js'
import { runAction } from '../rig/runner.js'
import { makeTestDir, stopAllSshd } from '../rig/sshd.js'

afterAll(async () => {
  await stopAllSshd()
})

const MIB = 1 << 20
const NAME_101 = `${'b'.repeat(97)}.bin`
const STRADDLE = `${'s'.repeat(99)}é`

/** Bytes that differ from block to block, so a misplaced block shows. */
function content(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) buffer.writeUInt32LE((i * 2654435761 + seed) >>> 0, i)
  return buffer
}

const BIG: Record<string, Buffer> = {
  'exactly-1mib.bin': content(MIB, 1),
  'just-under.bin': content(MIB - 1, 2),
  'assets/huge.bin': content(5 * MIB + 3, 3),
  [`deep/${NAME_101}`]: content(3 * MIB, 4),
  [`deep/${STRADDLE}`]: content(MIB + 511, 5),
  'records.bin': content(10240 * 300, 6),
  // Past EARLY_BLOCKS: names the early hashing leaves to the hashing after the stream, and one
  // it takes.
  'new\nline/big\nfile.bin': content(3 * MIB, 7),
  'back\\slash-big.bin': content(3 * MIB + 1, 8),
  '-dash-big.bin': content(3 * MIB + 2, 10)
}

function bigWorkspace(): string {
  const ws = workspaceWith({ 'index.html': '<h1>big</h1>', 'small/a.txt': 'a' })
  for (const [name, data] of Object.entries(BIG)) {
    mkdirSync(path.dirname(path.join(ws, 'dist', name)), { recursive: true })
    writeFileSync(path.join(ws, 'dist', name), data)
  }
  chmodSync(path.join(ws, 'dist', 'assets/huge.bin'), 0o700)
  return ws
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

const KINDS = [
  { name: 'OpenSSH with GNU tar', start: () => startDashServer() },
  { name: 'BusyBox only', start: () => startBusyboxServer() },
  { name: 'bsdtar', start: () => startBsdtarServer() }
] as const

describe.each(KINDS)('big files on $name', kind => {
  it('land byte for byte with their modes, and an incremental deploy reuses the unchanged ones', async () => {
    const server = await kind.start()
    const remote = await makeTestDir(server)
    const ws = bigWorkspace()
    const first = await deploy(server, ws, remote)
    expect(first.log).not.toContain('::error::')
    expect(first.exitCode).toBe(0)
    for (const [name, data] of Object.entries(BIG)) {
      const there = readFileSync(path.join(remote, 'current', name))
      expect([name, there.length, sha(there)]).toEqual([name, data.length, sha(data)])
    }
    expect(statSync(path.join(remote, 'current', 'assets/huge.bin')).mode & 0o777).toBe(0o700)
    expect(readRemote(remote, 'current', 'index.html')).toBe('<h1>big</h1>')

    const changed = content(4 * MIB, 9)
    writeFileSync(path.join(ws, 'dist', `deep/${NAME_101}`), changed)
    const second = await deploy(server, ws, remote)
    expect(second.log).not.toContain('::error::')
    expect(second.exitCode).toBe(0)
    expect(second.outputs['files-uploaded']).toBe('1')
    const there = readFileSync(path.join(remote, 'current', `deep/${NAME_101}`))
    expect(sha(there)).toBe(sha(changed))
    expect(sha(readFileSync(path.join(remote, 'current', 'assets/huge.bin')))).toBe(
      sha(BIG['assets/huge.bin']!)
    )
  })
})

// BusyBox tar gives a directory its mode as soon as it unpacks it, so a 0555 directory's files
// fail there as the login user; that is so for the system tar's small files too (not only the
// big files after them), and is left out here.
describe.each(KINDS.filter(k => k.name !== 'BusyBox only'))(
  'on $name, a read-only directory',
  kind => {
    it('gets its big and small files, and keeps its mode', async () => {
      const server = await kind.start()
      const remote = await makeTestDir(server)
      const ws = workspaceWith({ 'locked/small.txt': 'small', 'index.html': 'x' })
      writeFileSync(path.join(ws, 'dist', 'locked/big.bin'), content(2 * MIB + 1, 21))
      chmodSync(path.join(ws, 'dist', 'locked'), 0o555)
      const result = await deploy(server, ws, remote)
      chmodSync(path.join(ws, 'dist', 'locked'), 0o755)
      expect(result.log).not.toContain('::error::')
      expect(result.exitCode).toBe(0)
      expect(sha(readFileSync(path.join(remote, 'current', 'locked/big.bin')))).toBe(
        sha(content(2 * MIB + 1, 21))
      )
      expect(readRemote(remote, 'current', 'locked/small.txt')).toBe('small')
      expect(statSync(path.join(remote, 'current', 'locked')).mode & 0o777).toBe(0o555)
    })
  }
)

const GONE = [
  { what: 'a big file', file: 'assets/huge.bin', fifo: false },
  { what: 'a big file, a FIFO in its place', file: 'assets/huge.bin', fifo: true },
  { what: 'a small file (the system tar’s)', file: 'small/a.txt', fifo: false }
] as const

describe.each(KINDS)('on $name, a file taken away after the walk', kind => {
  it.each(GONE)(
    '($what) fails the deploy naming it, the server as it was and the lock released',
    async ({ file, fifo }) => {
      const server = await kind.start()
      const remote = await makeTestDir(server)
      const ws = bigWorkspace()
      const first = await deploy(server, ws, remote)
      expect(first.exitCode).toBe(0)
      // A second deploy holds the lock a while: the third has walked its files when it waits.
      writeFileSync(path.join(ws, 'dist', 'index.html'), 'second')
      const holder = deploy(server, ws, remote, { 'before-activate': 'sleep 3' })
      const lock = path.join(remote, '.gated-deploy', 'lock')
      while (!existsSync(lock)) await new Promise(resolve => setTimeout(resolve, 50))
      const ws3 = bigWorkspace()
      // Changed, so that it is sent rather than reused.
      writeFileSync(
        path.join(ws3, 'dist', file),
        content(file.startsWith('small') ? 10 : 6 * MIB, 11)
      )
      let removed = false
      const third = await runAction({
        workspace: ws3,
        eventName: 'push',
        inputs: { mode: 'deployment', ...sshInputs(server, remote), 'lock-timeout': '60' },
        env: { GITHUB_SHA: nextSha() },
        onOutput: text => {
          if (!removed && text.includes('Waiting (`lock-timeout`')) {
            removed = true
            rmSync(path.join(ws3, 'dist', file))
            if (fifo) execFileSync('mkfifo', [path.join(ws3, 'dist', file)])
          }
        }
      })
      const second = await holder
      expect(second.exitCode).toBe(0)
      expect(removed).toBe(true)
      expect(third.log).not.toMatch(/\n\s+at /) // no crash's stack trace
      expect(third.exitCode).toBe(1)
      const error = /::error::(.*)/.exec(third.log)?.[1] ?? ''
      expect(error).toContain(file)
      expect(liveRelease(remote)).toBe(second.outputs.release)
      expect(releases(remote)).toEqual(
        [first.outputs.release ?? '', second.outputs.release ?? ''].sort()
      )
      expect(lockHeld(remote)).toBe(false)
      expect(readRemote(remote, 'current', 'index.html')).toBe('second')
    }
  )
})
