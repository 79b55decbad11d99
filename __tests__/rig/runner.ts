/**
 * Runs the bundled action exactly as the Actions runner does: `node dist/index.js` with INPUT_*
 * variables (hyphens kept), the event payload file, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const BUNDLE = path.join(ROOT, 'dist', 'index.js')

export interface RunOptions {
  readonly inputs: Readonly<Record<string, string>>
  readonly eventName?: string
  /** The webhook payload (written to GITHUB_EVENT_PATH). */
  readonly payload?: unknown
  /** The workspace (cwd and GITHUB_WORKSPACE). */
  readonly workspace: string
  readonly env?: Readonly<Record<string, string>>
  /** Called with each chunk of the action's output as it is printed (to watch a run live). */
  readonly onOutput?: (chunk: string) => void
}

export interface RunResult {
  readonly exitCode: number
  readonly log: string
  readonly outputs: Record<string, string>
  readonly summary: string
}

/** Parses the `name<<delimiter` blocks the toolkit writes to GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '')
    if (!match) continue
    const [, name = '', delimiter] = match
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? '')
    outputs[name] = value.join('\n')
  }
  return outputs
}

export function inputEnv(inputs: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, value]) => [
      `INPUT_${name.replace(/ /g, '_').toUpperCase()}`,
      value
    ])
  )
}

/** Environment a hosted runner sets, minus anything of this test process's own. */
function runnerEnv(options: RunOptions, temp: string): Record<string, string> {
  const eventPath = path.join(temp, 'event.json')
  writeFileSync(eventPath, JSON.stringify(options.payload ?? {}))
  const outputFile = path.join(temp, 'output')
  const summaryFile = path.join(temp, 'summary.md')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const runnerTemp = path.join(temp, 'runner-temp')
  mkdirSync(runnerTemp)
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? temp,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: options.eventName ?? 'push',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: options.workspace,
    GITHUB_REPOSITORY: 'Codertocat/Hello-World',
    GITHUB_SHA: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_ACTOR: 'Codertocat',
    GITHUB_RUN_ID: '1234567890',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.invalid',
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    ...inputEnv(options.inputs),
    ...options.env
  }
}

/** Runs `node dist/index.js` to completion (asynchronously, so in-process stand-ins can answer). */
export async function runAction(options: RunOptions): Promise<RunResult> {
  const temp = mkdtempSync(path.join(os.tmpdir(), 'gd-run-'))
  const env = runnerEnv(options, temp)
  const chunks: string[] = []
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE], {
      cwd: options.workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8')
      chunks.push(text)
      options.onOutput?.(text)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('error', reject)
    child.on('close', code => resolve(code ?? 1))
  })
  const result = {
    exitCode,
    log: chunks.join(''),
    outputs: parseOutputFile(readFileSync(env.GITHUB_OUTPUT ?? '', 'utf8')),
    summary: readFileSync(env.GITHUB_STEP_SUMMARY ?? '', 'utf8')
  }
  rmSync(temp, { recursive: true, force: true })
  return result
}
