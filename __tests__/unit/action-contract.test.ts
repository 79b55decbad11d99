/** action.yml and the typed list of inputs and outputs in src/action-io.ts agree. */
import { describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { INPUTS, OUTPUTS } from '../../src/action-io.js'
import { ROOT } from '../rig/runner.js'

interface ActionYml {
  inputs: Record<string, { description: string; default?: string }>
  outputs: Record<string, { description: string }>
  runs: { using: string; main: string }
}

const action = YAML.parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as ActionYml

function sourcesReading(pattern: RegExp, dir = path.join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourcesReading(pattern, full)
    return pattern.test(readFileSync(full, 'utf8')) ? [path.relative(ROOT, full)] : []
  })
}

describe('action contract', () => {
  it('declares exactly the inputs of src/action-io.ts, each described', () => {
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUTS].sort())
    for (const [name, input] of Object.entries(action.inputs)) {
      expect([name, input.description.length > 10]).toEqual([name, true])
    }
  })

  it('declares exactly the outputs of src/action-io.ts', () => {
    expect(Object.keys(action.outputs).sort()).toEqual([...OUTPUTS].sort())
  })

  it('runs the bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' })
  })

  it('reads inputs only in src/inputs.ts', () => {
    expect(
      sourcesReading(
        /core\.getInput|getBooleanInput|process\.env\.INPUT_|process\.env\[['"`]INPUT_/
      )
    ).toEqual(['src/inputs.ts'])
  })
})
