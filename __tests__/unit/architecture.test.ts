/**
 * The layout issue 9 set, checked on the source: imports go one way (inputs → handlers →
 * deploy/ssh/github → shared leaves), the report is rendered from a result and imported by the
 * orchestrator only, one module writes outputs, and no TypeScript file holds remote shell text.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../rig/runner.js'

const SRC = path.join(ROOT, 'src')

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sources(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

/** `src/`-relative module paths each source file imports (relative imports only). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map(m =>
    path.relative(SRC, path.resolve(path.dirname(file), m[1] ?? '')).replace(/\.js$/, '')
  )
}

const files = sources().map(file => ({
  name: path.relative(SRC, file).replace(/\.ts$/, ''),
  text: readFileSync(file, 'utf8'),
  imports: importsOf(file)
}))
const folder = (module: string): string => module.split('/')[0] ?? ''

/** Which folders (or top-level modules) a folder must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  report: ['ssh', 'github', 'deploy', 'handlers', 'gate', 'build', 'main'],
  github: ['report', 'handlers', 'deploy', 'gate', 'main'],
  deploy: ['report', 'handlers', 'github', 'gate', 'main'],
  ssh: ['report', 'handlers', 'github', 'gate', 'deploy', 'main'],
  gate: ['report', 'handlers', 'deploy', 'main'],
  handlers: ['report', 'main'],
  artifact: ['report', 'handlers', 'github', 'gate', 'deploy', 'ssh', 'main'],
  build: ['report', 'handlers', 'github', 'gate', 'deploy', 'ssh', 'main']
}

describe('the source layout', () => {
  it('finds the source files', () => {
    expect(files.map(f => f.name)).toEqual(expect.arrayContaining(['main', 'deploy/fleet']))
  })

  it.each(Object.entries(FORBIDDEN))('%s/ imports none of %p', (from, forbidden) => {
    const wrong = files
      .filter(f => folder(f.name) === from)
      .flatMap(f =>
        f.imports.filter(i => forbidden.includes(folder(i))).map(i => `${f.name} → ${i}`)
      )
    expect(wrong).toEqual([])
  })

  it('imports the report from the orchestrator only, and no gate/ module there', () => {
    const reportUsers = files
      .filter(f => folder(f.name) !== 'report' && f.imports.some(i => folder(i) === 'report'))
      .map(f => f.name)
    expect(reportUsers).toEqual(['main'])
    const main = files.find(f => f.name === 'main')
    expect(main?.imports.filter(i => folder(i) === 'gate')).toEqual([])
  })

  it('writes outputs in one module', () => {
    const writers = files.filter(f => /\bsetOutput\(/.test(f.text)).map(f => f.name)
    expect(writers).toEqual(['main'])
  })

  it('keeps remote shell programs in .sh files, not in TypeScript', () => {
    // Words only shell text has: in a TypeScript file they can only be in a string.
    const shell = /; then\b|; do\b|\besac\b|\bset -eu?\b|\bfi\s*$/m
    const holders = files
      .filter(f => shell.test(f.text.replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '')))
      .map(f => f.name)
    expect(holders).toEqual([])
  })
})
