/**
 * Runs a `build` or `test` script the way a workflow `run:` step does: bash with `-eo pipefail`
 * from a file, in the working directory, output streamed live with backpressure, and only the
 * last lines kept in memory for the report.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Writable } from 'node:stream'

export interface ScriptResult {
  readonly exitCode: number
  /** The last lines of combined output, for the report. */
  readonly tail: string
  readonly durationMs: number
}

/** Keeps the last `maxLines` lines (and at most `maxBytes`) of a stream of chunks. */
export class Tail {
  private text = ''
  constructor(
    private readonly maxLines = 30,
    private readonly maxBytes = 16_384
  ) {}

  push(chunk: Buffer): void {
    this.text += chunk.toString('utf8')
    if (this.text.length > this.maxBytes * 2) this.text = this.text.slice(-this.maxBytes)
  }

  toString(): string {
    const lines = this.text.slice(-this.maxBytes).replace(/\n$/, '').split('\n')
    return lines.slice(-this.maxLines).join('\n')
  }
}

export async function runScript(options: {
  script: string
  cwd: string
  output: Writable
  env?: NodeJS.ProcessEnv
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
        env: options.env ?? process.env,
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
    return { exitCode, tail: tail.toString(), durationMs: Date.now() - started }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
