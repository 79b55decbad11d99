/**
 * The big-file packer (transfer.ts, tar-format.ts) against hostile trees: names at and around
 * the 100-byte header field (multi-byte UTF-8 cut by it, newline, backslash, leading dash, deep
 * paths), sizes at the DIRECT_BYTES edge and on block and record multiples, many big files, and
 * files that change under the packer after the walk (a FIFO, a directory or a symlink in a big
 * file's place). Every tar a server may have (GNU, BusyBox, bsdtar) must unpack the stream byte
 * for byte, and a big file that is no longer a regular file must fail the upload by name, never
 * hang it or send what it is now.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildManifest, type Manifest } from '../../src/artifact/manifest.js'
import { ArchiveEnd, BLOCK } from '../../src/artifact/tar-format.js'
import { BLOCKING_FACTOR, DIRECT_BYTES, packEntries } from '../../src/artifact/transfer.js'
import { tarOf, TARS, unpack } from '../rig/tars.js'

/** 99 ASCII bytes then 'é' (2 bytes): the header's 100-byte name field cuts the character. */
const STRADDLE = `${'s'.repeat(99)}é`
const NAMES = [
  'n'.repeat(100),
  'n'.repeat(101),
  STRADDLE,
  `${'d'.repeat(98)}/x`,
  '-leading-dash.bin',
  'back\\slash.bin',
  'new\nline.bin',
  `${Array.from({ length: 30 }, (_, i) => `level${i}`).join('/')}/deep.bin`
]

let root: string
let tree: string
let manifest: Manifest

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

function content(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) buffer.writeUInt32LE((i * 2654435761 + seed) >>> 0, i)
  return buffer
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'gd-packer-hostile-'))
  tree = path.join(root, 'tree')
  mkdirSync(tree)
  NAMES.forEach((name, i) => {
    mkdirSync(path.dirname(path.join(tree, name)), { recursive: true })
    writeFileSync(path.join(tree, name), content(DIRECT_BYTES + 512 * i + (i % 3), i))
  })
  writeFileSync(path.join(tree, 'just-under.bin'), content(DIRECT_BYTES - 1, 100))
  writeFileSync(path.join(tree, 'exactly.bin'), content(DIRECT_BYTES, 101))
  writeFileSync(path.join(tree, 'record.bin'), content(BLOCKING_FACTOR * BLOCK * 200, 102))
  writeFileSync(path.join(tree, 'small.txt'), 'small\n')
  mkdirSync(path.join(tree, 'closed'))
  writeFileSync(path.join(tree, 'closed/big-in-0555.bin'), content(DIRECT_BYTES + 3, 103))
  execFileSync('chmod', ['0555', path.join(tree, 'closed')])
  manifest = await buildManifest({ root: tree, exclude: [], sharedPaths: [] })
})

afterAll(() => {
  execFileSync('chmod', ['-R', 'u+w', root])
  rmSync(root, { recursive: true, force: true })
})

describe('big files with hostile names and sizes', () => {
  it('has every name and size the test means in the manifest', () => {
    const files = manifest.entries.filter(e => e.type === 'file').map(e => e.path)
    for (const name of [...NAMES, 'just-under.bin', 'exactly.bin', 'record.bin'])
      expect(files).toContain(name)
  })

  for (const [name, tar] of Object.entries(TARS)) {
    it(`${name} unpacks every hostile name and size byte for byte`, async () => {
      const into = mkdtempSync(path.join(root, 'out-'))
      const archive = await tarOf(tree, manifest.entries)
      expect(archive.length % (BLOCKING_FACTOR * BLOCK)).toBe(0)
      const { code, stderr } = await unpack(tar, archive, into)
      expect([code, stderr]).toEqual([0, ''])
      for (const entry of manifest.entries) {
        if (entry.type !== 'file') continue
        const there = path.join(into, entry.path)
        expect([entry.path, sha(there)]).toEqual([entry.path, sha(path.join(tree, entry.path))])
        expect([entry.path, statSync(there).mode & 0o777]).toEqual([entry.path, entry.mode])
      }
      expect(statSync(path.join(into, 'closed')).mode & 0o777).toBe(0o555)
    })
  }

  it('reads back with only big files, many of them, no system tar in the stream', async () => {
    const big = manifest.entries.filter(e => e.type === 'file' && e.size >= DIRECT_BYTES)
    expect(big.length).toBeGreaterThan(8)
    const into = mkdtempSync(path.join(root, 'only-big-'))
    const { code, stderr } = await unpack(TARS['BusyBox tar'], await tarOf(tree, big), into)
    expect([code, stderr]).toEqual([0, ''])
    for (const entry of big)
      expect([entry.path, sha(path.join(into, entry.path))]).toEqual([
        entry.path,
        sha(path.join(tree, entry.path))
      ])
  })
})

describe('a big file that is no longer a regular file after the walk', () => {
  const swapped = async (replace: (file: string) => void, expected: RegExp): Promise<void> => {
    const file = path.join(tree, 'exactly.bin')
    const away = path.join(root, 'exactly.bin.away')
    renameSync(file, away)
    try {
      replace(file)
      const pack = packEntries(tree, manifest.entries)
      const chunks: Buffer[] = []
      pack.stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the packer hangs on it')), 15_000).unref()
      )
      await expect(Promise.race([pack.done, timeout])).rejects.toThrow(expected)
      pack.abort()
      await new Promise(resolve => setImmediate(resolve))
      const archive = Buffer.concat(chunks)
      const end = new ArchiveEnd()
      end.take(archive)
      expect(end.ended).toBe(true)
      const into = mkdtempSync(path.join(root, 'swapped-'))
      const { code } = await unpack(TARS['GNU tar'], archive, into)
      expect(code).toBe(0)
      expect(sha(path.join(into, 'record.bin'))).toBe(sha(path.join(tree, 'record.bin')))
    } finally {
      rmSync(file, { recursive: true, force: true })
      renameSync(away, file)
    }
  }

  it('fails naming it when a symlink took its place, and does not follow the link', async () => {
    await swapped(
      file => symlinkSync('record.bin', file),
      /cannot send exactly\.bin from the artifact: ELOOP/
    )
  })

  it('fails naming it when a directory took its place', async () => {
    await swapped(
      file => mkdirSync(file),
      /exactly\.bin from the artifact: it is no longer a regular file/
    )
  })

  it('fails naming it when a FIFO took its place, without waiting for a writer', async () => {
    await swapped(
      file => execFileSync('mkfifo', [file]),
      /exactly\.bin from the artifact: it is no longer a regular file/
    )
  })
})

describe('ArchiveEnd on what the system tar writes for awkward members', () => {
  it('cuts at the end of long-name, long-link-target and hard-link members however chunked', async () => {
    const dir = path.join(root, 'links')
    const longDir = path.join(dir, 'l'.repeat(120), 'm'.repeat(120))
    mkdirSync(longDir, { recursive: true })
    writeFileSync(path.join(longDir, 'small.txt'), 'x'.repeat(777))
    symlinkSync(`${'t'.repeat(150)}/target`, path.join(dir, 'long-target'))
    execFileSync('ln', [path.join(longDir, 'small.txt'), path.join(dir, 'hard.txt')])
    writeFileSync(path.join(dir, 'big.bin'), content(DIRECT_BYTES + 1, 7))
    const entries = (await buildManifest({ root: dir, exclude: [], sharedPaths: [] })).entries
    const small = entries.filter(e => !(e.type === 'file' && e.size >= DIRECT_BYTES))
    const tarOnly = await tarOf(dir, small)
    const members = Buffer.concat(new ArchiveEnd().take(tarOnly))
    // GNU tar's own listing of the cut archive plus a fresh end is every small entry.
    const listed = execFileSync('tar', ['-t', '-f', '-'], {
      input: Buffer.concat([members, Buffer.alloc(2 * BLOCK)])
    })
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map(p => p.replace(/\/$/, ''))
    expect(listed.sort()).toEqual(small.map(e => e.path).sort())
    for (const size of [1, 3, 511, 513, 1023, 10239, 10241]) {
      const end = new ArchiveEnd()
      const out: Buffer[] = []
      for (let at = 0; at < tarOnly.length; at += size)
        out.push(...end.take(tarOnly.subarray(at, at + size)))
      expect([size, end.ended, Buffer.concat(out).equals(members)]).toEqual([size, true, true])
    }
    for (const [name, tar] of Object.entries(TARS)) {
      const into = mkdtempSync(path.join(root, 'links-out-'))
      const { code, stderr } = await unpack(tar, await tarOf(dir, entries), into)
      expect([name, code, stderr]).toEqual([name, 0, ''])
      expect(sha(path.join(into, 'big.bin'))).toBe(sha(path.join(dir, 'big.bin')))
      expect(sha(path.join(into, 'hard.txt'))).toBe(sha(path.join(dir, 'hard.txt')))
    }
  })
})
