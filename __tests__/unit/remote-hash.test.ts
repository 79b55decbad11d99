/**
 * The server-side hashing program, run by a real `sh` over real files: with openssl (most names
 * hashed by it, escaped names by sha256sum) and without it (all by sha256sum), every file's
 * sha256 must come back under its exact name.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseListing } from '../../src/deploy/host.js'
import { HASH_FILES, MARK } from '../../src/deploy/remote-scripts.js'

const NAMES = [
  'plain.txt',
  '.dotfile',
  '-starts-with-dash',
  'spaces and "quotes" & $(dollar).txt',
  'ünïcødé 日本.txt',
  'back\\slash.txt',
  'new\nline.txt',
  'dir\nwith newline/inner.txt',
  'deep/a/b/c.bin',
  'empty'
]

let root: string
let noOpenssl: string

function hashesFrom(pathEnv: string): Map<string, string> {
  const out = execFileSync(
    '/bin/sh',
    ['-c', `set -eu\nprintf '${MARK.hashes}\\0'\n${HASH_FILES}`],
    {
      cwd: path.join(root, 'tree'),
      env: { PATH: pathEnv }
    }
  )
  return parseListing(out).hashes
}

function expected(): Map<string, string> {
  return new Map(
    NAMES.map(name => [
      name,
      createHash('sha256')
        .update(readFileSync(path.join(root, 'tree', name)))
        .digest('hex')
    ])
  )
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'gd-hash-'))
  NAMES.forEach((name, i) => {
    const file = path.join(root, 'tree', name)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, name === 'empty' ? '' : `${name}\n`.repeat(i * 1000 + 1))
  })
  // A PATH with the tools the program needs, but no openssl.
  noOpenssl = path.join(root, 'bin')
  mkdirSync(noOpenssl)
  for (const tool of ['find', 'xargs', 'sha256sum']) {
    const found = execFileSync('/bin/sh', ['-c', `command -v ${tool}`])
      .toString()
      .trim()
    symlinkSync(found, path.join(noOpenssl, tool))
  }
})

afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('the server-side hashing program', () => {
  it('hashes every file under its exact name with openssl on the PATH', () => {
    expect(execFileSync('/bin/sh', ['-c', 'command -v openssl']).toString()).toMatch(/openssl/)
    expect(hashesFrom(process.env.PATH ?? '/usr/bin:/bin')).toEqual(expected())
  })

  it('falls back to sha256sum for every file when the server has no openssl', () => {
    expect(() =>
      execFileSync('/bin/sh', ['-c', 'command -v openssl'], { env: { PATH: noOpenssl } })
    ).toThrow()
    expect(hashesFrom(noOpenssl)).toEqual(expected())
  })
})
