/**
 * The artifact's hashes, on a worker thread or (a small artifact) the main thread: the same
 * sha256 as a one-shot hash of each file, the files asked for first resolved before the rest,
 * and a file that cannot be read named in the error: also one that a FIFO (which would block the
 * read) or a link (which would be followed) replaced after the walk.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Hashing } from '../../src/artifact/hashing.js'
import { scanArtifact } from '../../src/artifact/manifest.js'

const root = mkdtempSync(path.join(tmpdir(), 'gd-hashing-'))
mkdirSync(path.join(root, 'sub'))
for (let i = 0; i < 40; i++) writeFileSync(path.join(root, 'sub', `f${i}.txt`), `file ${i}\n`)
writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(3 << 20, 5))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const expected = (rel: string): string =>
  createHash('sha256')
    .update(readFileSync(path.join(root, rel)))
    .digest('hex')

describe.each([
  ['a worker thread', 0],
  ['the main thread', Infinity]
])('Hashing on %s', (_where, workerBytes) => {
  it('hashes every file of the scan into a complete manifest', async () => {
    const scan = await scanArtifact({ root, exclude: [], sharedPaths: [] })
    const hashing = new Hashing(root, scan, workerBytes)
    const first = await hashing.of(['sub/f39.txt'])
    expect(first.get('sub/f39.txt')).toBe(expected('sub/f39.txt'))
    const manifest = await hashing.manifest()
    hashing.stop()
    const files = manifest.entries.flatMap(e => (e.type === 'file' ? [e] : []))
    expect(files).toHaveLength(41)
    for (const file of files) expect(file.sha256).toBe(expected(file.path))
    expect(manifest.bytes).toBe(scan.bytes)
  })

  it('names a file it cannot read', async () => {
    const locked = path.join(root, 'locked')
    mkdirSync(locked, { recursive: true })
    writeFileSync(path.join(locked, 'secret.txt'), 'x')
    const scan = await scanArtifact({ root: locked, exclude: [], sharedPaths: [] })
    rmSync(path.join(locked, 'secret.txt'))
    const hashing = new Hashing(locked, scan, workerBytes)
    await expect(hashing.manifest()).rejects.toThrow(
      `cannot hash ${path.join(locked, 'secret.txt')} in \`artifact\``
    )
    hashing.stop()
    chmodSync(locked, 0o755)
    rmSync(locked, { recursive: true })
  })
  it('names a file that a FIFO or a link replaced after the walk, neither waiting nor following', async () => {
    for (const [name, swap] of [
      ['fifo', (file: string): void => void execFileSync('mkfifo', [file])],
      ['link', (file: string): void => symlinkSync(path.join(root, 'big.bin'), file)]
    ] as const) {
      const dir = mkdtempSync(path.join(root, `swapped-${name}-`))
      writeFileSync(path.join(dir, 'data.bin'), 'x')
      const scan = await scanArtifact({ root: dir, exclude: [], sharedPaths: [] })
      rmSync(path.join(dir, 'data.bin'))
      swap(path.join(dir, 'data.bin'))
      const hashing = new Hashing(dir, scan, workerBytes)
      await expect(hashing.manifest()).rejects.toThrow(
        name === 'fifo'
          ? `cannot hash ${path.join(dir, 'data.bin')} in \`artifact\`: it is no longer a regular file`
          : /ELOOP/
      )
      hashing.stop()
      rmSync(dir, { recursive: true })
    }
  })
})
