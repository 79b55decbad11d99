/**
 * `exclude` follows .gitignore exactly: the files the real walker ships are the files
 * `git ls-files --others --exclude-from` lists for the same patterns. Invalid patterns are named.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkExcludePattern, excludePatterns, globToRegex } from '../../src/artifact/glob.js'
import { buildManifest } from '../../src/artifact/manifest.js'

const FILES = [
  'a.map',
  'keep.map',
  'src/b.map',
  'src/keep.map',
  'src/c.ts',
  'top.txt',
  'nested/top.txt',
  'build/out.js',
  'src/build/out.js',
  'build.txt',
  'docs/guide.md',
  'docs/deep/guide.md',
  'x/tmp/y/z.txt',
  'tmp/q.txt',
  '#hash',
  '!bang',
  'trail ',
  'trail',
  'logs/a.log',
  'logs/keep.log',
  'sub/inner.txt',
  'sub/other.txt',
  'abc',
  'a/c',
  'x.txt',
  'z.txt',
  'Case.TXT',
  'case.txt',
  'deep/x.js',
  'deep/1/2/x.js',
  'deep/1/y.js',
  'file.{map,ts}',
  '.env',
  '.config/settings'
]

const PATTERNS = [
  '*.map',
  '!keep.map',
  'build/',
  '/top.txt',
  'docs/*.md',
  '**/tmp/**',
  '\\#hash',
  '\\!bang',
  'trail\\ ',
  'logs/*',
  '!logs/keep.log',
  'sub/',
  '!sub/inner.txt',
  'a?c',
  '[xy].txt',
  'case.txt',
  'deep/**/x.js',
  'file.\\{map,ts\\}',
  '.env'
]

function tree(files: readonly string[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'gd-exclude-'))
  for (const file of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), file)
  }
  return root
}

function gitShips(root: string, patterns: readonly string[]): string[] {
  const list = path.join(mkdtempSync(path.join(os.tmpdir(), 'gd-gitignore-')), 'exclude')
  writeFileSync(list, patterns.join('\n') + '\n')
  execFileSync('git', ['init', '-q', root])
  const out = execFileSync(
    'git',
    ['-c', 'core.ignorecase=false', 'ls-files', '-z', '--others', `--exclude-from=${list}`],
    { cwd: root, encoding: 'utf8' }
  )
  return out.split('\0').filter(Boolean).sort()
}

async function weShip(root: string, patterns: readonly string[]): Promise<string[]> {
  const manifest = await buildManifest({ root, exclude: patterns, sharedPaths: [] })
  return manifest.entries
    .filter(e => e.type === 'file')
    .map(e => e.path)
    .sort()
}

describe('exclude', () => {
  it('ships exactly the files git would not ignore, negation and escapes included', async () => {
    const root = tree(FILES)
    for (const pattern of PATTERNS) expect(checkExcludePattern(pattern)).toBeUndefined()
    const ours = await weShip(root, PATTERNS)
    expect(ours).toEqual(gitShips(root, PATTERNS))
    // The cases the hand-written glob got wrong, spelled out.
    expect(ours).toContain('keep.map')
    expect(ours).toContain('src/keep.map')
    expect(ours).not.toContain('a.map')
    expect(ours).toContain('logs/keep.log')
    expect(ours).not.toContain('sub/inner.txt') // no re-include inside an excluded directory
    expect(ours).toContain('nested/top.txt')
    expect(ours).toContain('Case.TXT')
    expect(ours).toContain('trail')
    expect(ours).not.toContain('trail ')
  })

  it('never ships .git, even when a pattern re-includes it', async () => {
    const root = tree(['index.html'])
    execFileSync('git', ['init', '-q', root])
    const ours = await weShip(root, ['!.git/', '!.git/config'])
    expect(ours).toEqual(['index.html'])
  })

  it('reads one pattern a line, without comments, blank lines or YAML indentation', () => {
    expect(excludePatterns('*.map\n  # note\n\n  node_modules/\r\n\\#literal\ntrail\\ ')).toEqual([
      '*.map',
      'node_modules/',
      '\\#literal',
      'trail\\ '
    ])
  })

  it.each([
    ['*.{map,ts}', /\{a,b\} alternatives.*one pattern per line/],
    ['src/[abc', /never closed/],
    ['dir\\', /ends with a backslash/],
    ['./dist', /"\." or "\.\." segment/],
    ['../secrets', /"\." or "\.\." segment/],
    ['!', /names no path/],
    ['a\tb', /control character/]
  ])('refuses %j, saying why', (pattern, why) => {
    expect(checkExcludePattern(pattern)).toMatch(why)
  })

  it.each(['{literal}', 'a{b}', '\\{a,b\\}', '[]]x', '[!a]b', '**/cache/', '/root-only'])(
    'accepts %j',
    pattern => {
      expect(checkExcludePattern(pattern)).toBeUndefined()
    }
  )
})

describe('globToRegex (test-report globs)', () => {
  it.each([
    ['reports/*.xml', 'reports/a.xml', true],
    ['reports/*.xml', 'reports/sub/a.xml', false],
    ['**/junit-*.xml', 'a/b/junit-1.xml', true],
    ['**/junit-*.xml', 'junit-1.xml', true],
    ['test-?.xml', 'test-1.xml', true],
    ['[ab].xml', 'b.xml', true],
    ['[!ab].xml', 'b.xml', false],
    ['out.{xml}', 'out.{xml}', true],
    ['a.b', 'aXb', false],
    ['[z-a].xml', '[z-a].xml', true]
  ])('%s against %s: %s', (glob, file, expected) => {
    expect(globToRegex(glob).test(file)).toBe(expected)
  })
})
