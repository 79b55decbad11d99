/** README.md agrees with action.yml: generated tables, and workflow examples that only use real inputs. */
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { makeTables, updateReadme } from '../../scripts/readme-tables.js'
import { ROOT } from '../rig/runner.js'

interface ActionYml {
  inputs: Record<string, unknown>
  outputs: Record<string, unknown>
}

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const actionText = readFileSync(path.join(ROOT, 'action.yml'), 'utf8')
const action = YAML.parse(actionText) as ActionYml
const inputs = Object.keys(action.inputs)
const outputs = Object.keys(action.outputs)

/** The contents of every ```yaml fenced block, with the line it starts on. */
function yamlBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = []
  const fence = /^```ya?ml[ \t]*\n([\s\S]*?)^```[ \t]*$/gm
  for (const match of markdown.matchAll(fence)) {
    const line = markdown.slice(0, match.index).split('\n').length
    blocks.push({ line, text: match[1] ?? '' })
  }
  return blocks
}

interface Step {
  readonly id?: unknown
  readonly uses: string
  readonly with?: Record<string, unknown>
}

/** Every mapping with a `uses:` key, wherever it sits (workflow jobs or a bare list of steps). */
function stepsIn(node: unknown): Step[] {
  if (Array.isArray(node)) return node.flatMap(stepsIn)
  if (typeof node !== 'object' || node === null) return []
  const values = Object.values(node).flatMap(stepsIn)
  return 'uses' in node && typeof node.uses === 'string' ? [node as Step, ...values] : values
}

const isThisAction = (step: Step): boolean => !step.uses.startsWith('actions/')

const workflows = yamlBlocks(readme).map(block => ({
  ...block,
  document: YAML.parseDocument(block.text)
}))

describe('README.md', () => {
  it('has the inputs and outputs tables the generator makes from action.yml', async () => {
    const tables = await makeTables(actionText)
    for (const section of ['inputs', 'outputs'] as const) {
      const between = new RegExp(
        `<!-- ${section}:start -->\\n([\\s\\S]*?)\\n<!-- ${section}:end -->`
      )
      expect([section, between.exec(readme)?.[1]?.trim()]).toEqual([section, tables[section]])
    }
    // Run `npx tsx scripts/readme-tables.ts` when this fails.
    expect(await updateReadme(readme, actionText)).toBe(readme)
  })

  it('lists every input and output of action.yml in its tables', async () => {
    const tables = await makeTables(actionText)
    for (const name of inputs) expect(tables.inputs).toContain(`| \`${name}\``)
    for (const name of outputs) expect(tables.outputs).toContain(`| \`${name}\``)
  })

  it('has yaml blocks that parse, each a workflow that uses this action', () => {
    expect(workflows.length).toBeGreaterThanOrEqual(4)
    for (const { line, document } of workflows) {
      expect([line, document.errors.map(e => e.message)]).toEqual([line, []])
      expect([line, stepsIn(document.toJS()).filter(isThisAction).length > 0]).toEqual([line, true])
    }
  })

  it('points every uses: of this action at gated-deploy with a version', () => {
    for (const { line, document } of workflows) {
      for (const step of stepsIn(document.toJS()).filter(isThisAction)) {
        expect([line, step.uses]).toEqual([
          line,
          expect.stringMatching(/^[\w.-]+\/gated-deploy@v\d+$/)
        ])
      }
    }
  })

  it('passes only inputs that action.yml declares, with valid modes', () => {
    for (const { line, document } of workflows) {
      for (const step of stepsIn(document.toJS()).filter(isThisAction)) {
        const given = Object.keys(step.with ?? {})
        expect([line, given.filter(name => !inputs.includes(name))]).toEqual([line, []])
        const mode = step.with?.mode
        if (mode !== undefined)
          expect([line, mode]).toEqual([line, expect.stringMatching(/^(delivery|deployment)$/)])
      }
    }
  })

  it('reads only outputs that action.yml declares from this action’s steps', () => {
    for (const { line, text, document } of workflows) {
      const ids = stepsIn(document.toJS())
        .filter(isThisAction)
        .flatMap(step => (typeof step.id === 'string' ? [step.id] : []))
      for (const id of ids) {
        const read = [...text.matchAll(new RegExp(`steps\\.${id}\\.outputs\\.([\\w-]+)`, 'g'))].map(
          m => m[1] ?? ''
        )
        expect([line, id, read.filter(name => !outputs.includes(name))]).toEqual([line, id, []])
      }
    }
  })
})
