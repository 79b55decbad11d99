/**
 * Writes the inputs and outputs tables of README.md from action.yml, between the markers
 * `<!-- inputs:start -->`/`<!-- inputs:end -->` and `<!-- outputs:start -->`/`<!-- outputs:end -->`.
 *
 *   npx tsx scripts/readme-tables.ts           # rewrite README.md
 *   npx tsx scripts/readme-tables.ts --check   # exit 1 when README.md is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as prettier from 'prettier'
import YAML from 'yaml'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const README = path.join(ROOT, 'README.md')
const ACTION = path.join(ROOT, 'action.yml')

interface ActionMetadata {
  readonly inputs?: Record<string, { description?: string; default?: string | number | boolean }>
  readonly outputs?: Record<string, { description?: string }>
}

export type Section = 'inputs' | 'outputs'

/** Text for a table cell: one line, no `|` that would split the cell, no stray Markdown. */
function cell(text: string): string {
  return text
    .replace(/\s*\r?\n\s*/g, ' ')
    .trim()
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\*/g, '\\*')
    .replace(/</g, '&lt;')
}

/** A value in a code span, with a fence longer than any backtick run inside it. */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map(run => run.length))
  const fence = '`'.repeat(longest + 1)
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${text.replace(/\|/g, '\\|')}${pad}${fence}`
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`
}

/** A table laid out the way `prettier --write README.md` lays it out, with the project's config. */
async function format(table: string): Promise<string> {
  const config = (await prettier.resolveConfig(README)) ?? {}
  return (await prettier.format(table, { ...config, parser: 'markdown' })).trimEnd()
}

/** The Markdown tables for action.yml's text: inputs (name, description, default) and outputs. */
export async function makeTables(actionYml: string): Promise<Record<Section, string>> {
  const action = YAML.parse(actionYml) as ActionMetadata
  const inputs = Object.entries(action.inputs ?? {}).map(([name, input]) => {
    const fallback = input.default === undefined ? '' : String(input.default)
    return row([code(name), cell(input.description ?? ''), fallback === '' ? '' : code(fallback)])
  })
  const outputs = Object.entries(action.outputs ?? {}).map(([name, output]) =>
    row([code(name), cell(output.description ?? '')])
  )
  return {
    inputs: await format(
      [row(['Name', 'Description', 'Default']), row(['---', '---', '---']), ...inputs].join('\n')
    ),
    outputs: await format(
      [row(['Name', 'Description']), row(['---', '---']), ...outputs].join('\n')
    )
  }
}

/** README text with the tables between the markers replaced; throws when a marker is missing. */
export async function updateReadme(readme: string, actionYml: string): Promise<string> {
  const tables = await makeTables(actionYml)
  let text = readme
  for (const section of ['inputs', 'outputs'] as const) {
    const start = `<!-- ${section}:start -->`
    const end = `<!-- ${section}:end -->`
    const from = text.indexOf(start)
    const to = text.indexOf(end)
    if (from < 0 || to < from) {
      throw new Error(`README.md needs the markers ${start} and ${end}, in that order.`)
    }
    text = `${text.slice(0, from + start.length)}\n\n${tables[section]}\n\n${text.slice(to)}`
  }
  return text
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check')
  const readme = readFileSync(README, 'utf8')
  const updated = await updateReadme(readme, readFileSync(ACTION, 'utf8'))
  if (updated === readme) {
    console.log('README.md inputs and outputs tables match action.yml.')
    return 0
  }
  if (check) {
    console.error(
      'README.md inputs/outputs tables are out of date with action.yml: run `npx tsx scripts/readme-tables.ts`.'
    )
    return 1
  }
  writeFileSync(README, updated)
  console.log('README.md inputs and outputs tables written from action.yml.')
  return 0
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    code => (process.exitCode = code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error))
      process.exitCode = 1
    }
  )
}
