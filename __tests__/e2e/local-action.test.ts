/**
 * `npx @github/local-action run . src/main.ts .env`, as the README's Development section shows it:
 * GitHub's local runner loads src/main.ts from source (tsx, @actions/core stubbed) with the inputs
 * of a dotenv file. The committed .env.example, its SSH values filled in for a real sshd, builds,
 * tests and deploys examples/app. Everything is local: npm runs offline, only 127.0.0.1 is dialled.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { liveRelease } from '../rig/deploy.js'
import { ROOT } from '../rig/runner.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

const EXAMPLE_ENV = path.join(ROOT, '.env.example')
const LOCAL_ACTION = path.join(ROOT, 'node_modules', '@github', 'local-action', 'package.json')
/** The values .env.example asks the user to fill in. */
const TO_FILL = ['INPUT_HOSTS', 'INPUT_PRIVATE-KEY', 'INPUT_KNOWN-HOSTS', 'INPUT_REMOTE-PATH']

let sshd: Sshd
const temps: string[] = []

beforeAll(async () => {
  if (!existsSync(LOCAL_ACTION)) {
    throw new Error(`${LOCAL_ACTION} is missing: run \`npm ci\` (it is a devDependency).`)
  }
  sshd = await startSshd()
})
afterAll(async () => {
  await stopAllSshd()
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  temps.push(dir)
  return dir
}

/** One `KEY="value"` line; dotenv would read a `"` or `\` inside differently, so none may be. */
function assignment(key: string, value: string): string {
  if (/["\\]/.test(value)) throw new Error(`${key}: cannot be written between double quotes`)
  return `${key}="${value}"`
}

/** The unquoted value .env.example gives `key`. */
function exampleValue(example: string, key: string): string {
  const value = new RegExp(`^${key}=(.*)$`, 'm').exec(example)?.[1]
  if (value === undefined) throw new Error(`.env.example does not set ${key}`)
  return value
}

interface LocalRun {
  readonly code: number
  readonly log: string
}

/** `npx @github/local-action run . src/main.ts <envFile>` from the repository, as documented. */
async function runLocalAction(envFile: string): Promise<LocalRun> {
  const chunks: string[] = []
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      'npx',
      ['--no', '@github/local-action', 'run', '.', 'src/main.ts', envFile],
      {
        cwd: ROOT,
        // A clean environment: the dotenv file is the only source of inputs and GITHUB_* variables.
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? os.tmpdir(),
          npm_config_offline: 'true',
          npm_config_update_notifier: 'false'
        },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    const collect = (chunk: Buffer): void => {
      chunks.push(chunk.toString('utf8'))
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('error', reject)
    child.on('close', status => resolve(status ?? 1))
  })
  return { code, log: chunks.join('') }
}

/** The `name` output as local-action's core stub prints it. */
function output(log: string, name: string): string | undefined {
  return new RegExp(`^::set-output name=${name}::(.*)$`, 'm').exec(log)?.[1]
}

/** A workspace holding a copy of examples/app without its build output. */
function exampleWorkspace(): string {
  const ws = tempDir('gd-local-ws-')
  const app = path.join(ROOT, 'examples', 'app')
  cpSync(app, path.join(ws, 'examples', 'app'), {
    recursive: true,
    filter: source => path.relative(app, source).split(path.sep)[0] !== 'public'
  })
  return ws
}

describe('npx @github/local-action run . src/main.ts .env', () => {
  it('deploys examples/app with .env.example, its SSH values filled in, to a real sshd', async () => {
    const example = readFileSync(EXAMPLE_ENV, 'utf8')
    for (const key of TO_FILL) exampleValue(example, key)
    const sha = exampleValue(example, 'GITHUB_SHA')
    const ws = exampleWorkspace()
    const remotePath = path.join(await makeTestDir(), 'example-app')
    const summaryFile = path.join(tempDir('gd-local-run-'), 'summary.md')
    // dotenv keeps the last value of a key: these lines fill in the example's placeholders.
    const filled = [
      example,
      assignment('INPUT_HOSTS', `${sshd.username}@${sshd.host}:${sshd.port}`),
      assignment('INPUT_PRIVATE-KEY', sshd.privateKey),
      assignment('INPUT_KNOWN-HOSTS', sshd.knownHostsLine),
      assignment('INPUT_REMOTE-PATH', remotePath),
      assignment('GITHUB_WORKSPACE', ws),
      assignment('GITHUB_STEP_SUMMARY', summaryFile),
      ''
    ].join('\n')
    const envFile = path.join(tempDir('gd-local-env-'), '.env')
    writeFileSync(envFile, filled, { mode: 0o600 })

    const run = await runLocalAction(envFile)

    expect([run.code, run.log]).toEqual([0, expect.stringContaining('Running Action')])
    expect(run.log).not.toContain('::error::')
    expect(output(run.log, 'status')).toBe('deployed')
    const release = output(run.log, 'release') ?? ''
    expect(release).toMatch(new RegExp(`^\\d{14}-${sha.slice(0, 12)}$`))
    // The release landed: current points at it and holds what build.sh built and test.sh checked.
    expect(liveRelease(remotePath)).toBe(release)
    const built = path.join(ws, 'examples', 'app', 'public')
    expect(readFileSync(path.join(remotePath, 'current', 'index.html'), 'utf8')).toBe(
      readFileSync(path.join(built, 'index.html'), 'utf8')
    )
    expect(
      readFileSync(path.join(remotePath, 'current', '.well-known', 'health.txt'), 'utf8')
    ).toBe('ok\n')
    expect(run.log).toMatch(/ok: \d+ files, \d+ local links resolve/)
    // local-action passes github-token's default unexpanded: no token, said once, no API call.
    expect(run.log).toContain('`github-token` is the unexpanded expression ${{ github.token }}')
    expect(readFileSync(summaryFile, 'utf8')).toContain(release)
    const keyBody = sshd.privateKey.split('\n')[1] ?? ''
    expect(keyBody.length).toBeGreaterThan(20)
    expect(run.log).not.toContain(keyBody)
  })

  it('refuses the example as committed by naming the input to fill in, before connecting', async () => {
    const ws = exampleWorkspace()
    const envFile = path.join(tempDir('gd-local-env-'), '.env')
    writeFileSync(
      envFile,
      `${readFileSync(EXAMPLE_ENV, 'utf8')}\n${assignment('GITHUB_WORKSPACE', ws)}\n`
    )

    const run = await runLocalAction(envFile)

    // local-action exits 0 whatever the action reports: the status output and ::error:: tell.
    expect([run.code, run.log]).toEqual([0, expect.stringContaining('Running Action')])
    expect(output(run.log, 'status')).toBe('failed')
    expect(run.log).toMatch(/^::error::Invalid inputs?; nothing was run\.$/m)
    expect(run.log).toContain('- `private-key`: cannot be read')
    expect(run.log).not.toContain('::group::build')
    expect(existsSync(path.join(ws, 'examples', 'app', 'public'))).toBe(false)
  })
})
