/**
 * Every workflow that uses this action (in README.md's ```yaml blocks, examples/ and
 * .github/workflows/) passes only inputs action.yml declares and reads only outputs it declares.
 */
import { describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { ROOT } from '../rig/runner.js'

interface Contract {
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
}

/** One YAML text to check, named by where it is (file, and line for a README block). */
interface Source {
  readonly where: string
  readonly text: string
}

interface ActionStep {
  readonly id: string | undefined
  readonly uses: string
  readonly inputs: readonly string[]
}

function readContract(): Contract {
  const parsed: unknown = YAML.parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8'))
  const keysOf = (field: 'inputs' | 'outputs'): string[] => {
    if (typeof parsed !== 'object' || parsed === null || !(field in parsed)) return []
    const value: unknown = (parsed as Record<string, unknown>)[field]
    return typeof value === 'object' && value !== null ? Object.keys(value) : []
  }
  return { inputs: keysOf('inputs'), outputs: keysOf('outputs') }
}

/** `uses: ./` (the repository itself) or `uses: <owner>/gated-deploy@<ref>`. */
function isThisAction(uses: string): boolean {
  return uses === './' || /^[\w.-]+\/gated-deploy@[\w./-]+$/.test(uses)
}

/** Every mapping with a string `uses:` naming this action, wherever it sits in the document. */
function actionSteps(node: unknown): ActionStep[] {
  if (Array.isArray(node)) return node.flatMap(actionSteps)
  if (typeof node !== 'object' || node === null) return []
  const record = node as Record<string, unknown>
  const nested = Object.values(record).flatMap(actionSteps)
  const { uses, id } = record
  if (typeof uses !== 'string' || !isThisAction(uses)) return nested
  const given = record.with
  const inputs = typeof given === 'object' && given !== null ? Object.keys(given) : []
  return [{ id: typeof id === 'string' ? id : undefined, uses, inputs }, ...nested]
}

/**
 * What is wrong with one workflow text: YAML errors, inputs action.yml does not declare, and
 * `steps.<id>.outputs.<name>` reads of an output it does not declare, for ids of this action.
 */
function problemsIn(source: Source, contract: Contract): string[] {
  const document = YAML.parseDocument(source.text)
  if (document.errors.length > 0) {
    return document.errors.map(error => `${source.where}: does not parse: ${error.message}`)
  }
  const steps = actionSteps(document.toJS())
  const problems: string[] = []
  for (const step of steps) {
    for (const input of step.inputs) {
      if (!contract.inputs.includes(input)) {
        problems.push(`${source.where}: ${step.uses} has no input \`${input}\``)
      }
    }
  }
  const ids = new Set(steps.flatMap(step => (step.id === undefined ? [] : [step.id])))
  for (const match of source.text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
    const [, id = '', output = ''] = match
    if (ids.has(id) && !contract.outputs.includes(output)) {
      problems.push(`${source.where}: step ${id} has no output \`${output}\``)
    }
  }
  return problems
}

/** The ```yaml (or ```yml) fenced blocks of a Markdown text, each named by its first line. */
function yamlBlocks(file: string, markdown: string): Source[] {
  const fence = /^```ya?ml[ \t]*\n([\s\S]*?)^```[ \t]*$/gm
  return [...markdown.matchAll(fence)].map(match => ({
    where: `${file}:${markdown.slice(0, match.index).split('\n').length}`,
    text: match[1] ?? ''
  }))
}

function yamlFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : yamlFilesUnder(full)
    return /\.ya?ml$/.test(entry.name) ? [full] : []
  })
}

function fileSource(file: string): Source {
  return { where: path.relative(ROOT, file), text: readFileSync(file, 'utf8') }
}

const contract = readContract()
const readmeBlocks = yamlBlocks('README.md', readFileSync(path.join(ROOT, 'README.md'), 'utf8'))
const workflowFiles = yamlFilesUnder(path.join(ROOT, '.github', 'workflows')).map(fileSource)
const exampleFiles = yamlFilesUnder(path.join(ROOT, 'examples')).map(fileSource)
const everySource = [...readmeBlocks, ...workflowFiles, ...exampleFiles]
const usesOfAction = (source: Source): number =>
  actionSteps(YAML.parse(source.text) as unknown).length

describe('workflows that use this action', () => {
  it('reads a contract from action.yml', () => {
    expect(contract.inputs).toContain('private-key')
    expect(contract.outputs).toContain('release')
  })

  it('finds them in README.md, examples/ and .github/workflows/', () => {
    expect(readmeBlocks.filter(block => usesOfAction(block) > 0).length).toBeGreaterThanOrEqual(10)
    expect(exampleFiles.filter(file => usesOfAction(file) > 0).length).toBeGreaterThanOrEqual(2)
    const selfTest = workflowFiles.find(file => file.where.endsWith('self-test.yml'))
    expect(selfTest && usesOfAction(selfTest)).toBeGreaterThanOrEqual(5)
  })

  it('passes only inputs action.yml declares and reads only outputs it declares', () => {
    expect(everySource.flatMap(source => problemsIn(source, contract))).toEqual([])
  })

  it('names a misspelt input, an unknown output and the place of each', () => {
    const text = [
      'jobs:',
      '  deploy:',
      '    steps:',
      '      - id: ship',
      '        uses: acme/gated-deploy@v1',
      '        with:',
      '          privat-key: x',
      '          remote-path: /srv/app',
      '      - uses: ./',
      '        with:',
      '          host: web1',
      '      - uses: appleboy/ssh-action@v1',
      '        with:',
      '          host: web1',
      '      - run: echo ${{ steps.ship.outputs.releases }} ${{ steps.ship.outputs.release }}'
    ].join('\n')
    expect(problemsIn({ where: 'typo.yml', text }, contract)).toEqual([
      'typo.yml: acme/gated-deploy@v1 has no input `privat-key`',
      'typo.yml: ./ has no input `host`',
      'typo.yml: step ship has no output `releases`'
    ])
  })

  it('says when a block does not parse', () => {
    expect(problemsIn({ where: 'bad.yml', text: 'a: [1\n' }, contract)).toEqual([
      expect.stringMatching(/^bad\.yml: does not parse: /)
    ])
  })

  it('installs in CI the same Debian packages .ci/run installs', () => {
    const run = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')
    const wanted = /^packages="([^"]+)"/m.exec(run)?.[1]?.split(/\s+/).sort()
    const ci = readFileSync(path.join(ROOT, '.github', 'workflows', 'ci.yml'), 'utf8')
    const installed = /apt-get install[^\n]*\\\n\s*([^\n]+)/.exec(ci)?.[1]?.trim().split(/\s+/)
    expect(wanted?.length).toBeGreaterThan(3)
    expect(installed?.sort()).toEqual(wanted)
  })

  it('tells a contributor in README.md to install the packages .ci/run installs', () => {
    const run = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')
    const wanted = /^packages="([^"]+)"/m.exec(run)?.[1]?.split(/\s+/).sort()
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const told = /apt-get install -y ([^&`]+?) &&/.exec(readme)?.[1]?.trim().split(/\s+/)
    expect(told?.sort()).toEqual(wanted)
  })
})
