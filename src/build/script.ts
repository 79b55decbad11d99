/**
 * Runs a `build` or `test` script the way a workflow `run:` step does: bash with `-eo pipefail`
 * from a file, in the working directory, with the environment a `run:` step gets, output
 * streamed live with backpressure, and only the last lines kept in memory for the report.
 *
 * Not `@actions/exec`: it writes to the output stream without waiting for it to drain and
 * resolves before the output is written, so a build printing 30 MB into a slow sink held
 * 460 MB of it in memory (300 MB: over 3 GB) where this runner stays under 100 MB.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'

export interface ScriptResult {
  readonly exitCode: number
  /** The last lines of combined output, for the report, passed through `maskTail`. */
  readonly tail: string
  readonly durationMs: number
}

/** Keeps the last `maxLines` lines (and at most `maxBytes`) of a stream of chunks. */
export class Tail {
  private text = ''
  private truncated = false
  private readonly decoder = new StringDecoder('utf8')
  constructor(
    private readonly maxLines = 30,
    private readonly maxBytes = 16_384
  ) {}

  push(chunk: Buffer): void {
    this.text += this.decoder.write(chunk)
    if (this.text.length > this.maxBytes * 2) {
      this.text = this.text.slice(-this.maxBytes)
      this.truncated = true
    }
  }

  /**
   * The kept lines, after `transform` (the masking function) has seen the whole kept text. A
   * first line cut by truncation is dropped, so no fragment of a secret too short to be
   * recognised reaches the report.
   */
  toString(transform: (text: string) => string = text => text): string {
    let text = this.text
    let cut = this.truncated
    if (text.length > this.maxBytes) {
      text = text.slice(-this.maxBytes)
      cut = true
    }
    const lines = transform(text).replace(/\n$/, '').split('\n')
    if (cut) lines.shift()
    return lines.slice(-this.maxLines).join('\n')
  }
}

/**
 * Set by the runner for the action's own process only, never for a `run:` step: the runtime
 * token and service URLs behind artifacts, caches, OIDC tokens and results.
 */
const RUNNER_INTERNAL = [
  'ACTIONS_RUNTIME_URL',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_CACHE_URL',
  'ACTIONS_CACHE_SERVICE_V2',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN'
]

/**
 * The environment of a `run:` step, from the action's own: no `INPUT_*` (the private key,
 * passphrase, password and token are inputs), none of the runner's internal tokens, and
 * GITHUB_OUTPUT / GITHUB_STATE pointing at scratch files so the script cannot set this
 * action's outputs (a deploy job may `promote` the `release` output).
 */
export function scriptEnv(parent: NodeJS.ProcessEnv, scratchDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(parent)) {
    const upper = name.toUpperCase()
    if (upper.startsWith('INPUT_') || RUNNER_INTERNAL.includes(upper)) continue
    if (upper.startsWith('ACTIONS_RUNTIME_') || upper.startsWith('ACTIONS_ID_TOKEN_')) continue
    if (upper.endsWith('_ORIGINAL') && upper.startsWith('ACTIONS_')) continue
    env[name] = value
  }
  if (parent.GITHUB_OUTPUT !== undefined) env.GITHUB_OUTPUT = path.join(scratchDir, 'output')
  if (parent.GITHUB_STATE !== undefined) env.GITHUB_STATE = path.join(scratchDir, 'state')
  return env
}

export async function runScript(options: {
  script: string
  cwd: string
  output: Writable
  /** The environment to derive the script's from (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** Applied to the kept output before it is cut to lines (the masking function). */
  maskTail?: (text: string) => string
}): Promise<ScriptResult> {
  const started = Date.now()
  const dir = await mkdtemp(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'gated-deploy-'))
  const file = path.join(dir, 'script.sh')
  await writeFile(file, options.script + '\n', { mode: 0o600 })
  try {
    const tail = new Tail()
    const exitCode = await new Promise<number>((resolve, reject) => {
      const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
        cwd: options.cwd,
        env: scriptEnv(options.env ?? process.env, dir),
        stdio: ['ignore', 'pipe', 'pipe']
      })
      const forward = (stream: NodeJS.ReadableStream): void => {
        stream.on('data', (chunk: Buffer) => {
          tail.push(chunk)
          if (!options.output.write(chunk)) {
            stream.pause()
            options.output.once('drain', () => stream.resume())
          }
        })
      }
      forward(child.stdout)
      forward(child.stderr)
      child.on('error', reject)
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
    return { exitCode, tail: tail.toString(options.maskTail), durationMs: Date.now() - started }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
