/** Runs any gated-deploy bundle (not only this checkout's dist/) as the runner runs it. */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { nextSha, sshInputs } from '../__tests__/rig/deploy.js'
import { inputEnv, parseOutputFile } from '../__tests__/rig/runner.js'
import type { Sshd } from '../__tests__/rig/sshd.js'
import { parseGroups } from './tools.js'

export interface Run {
  readonly ms: number
  readonly groups: Record<string, number>
}

/** `node <bundle>` in `workspace` as the runner runs it (see __tests__/rig/runner.ts). */
export async function runBundle(
  bundle: string,
  sshd: Sshd,
  workspace: string,
  dir: string
): Promise<Run> {
  const temp = mkdtempSync(path.join(os.tmpdir(), 'gd-ab-'))
  const file = (name: string): string => {
    writeFileSync(path.join(temp, name), name === 'event.json' ? '{}' : '')
    return path.join(temp, name)
  }
  mkdirSync(path.join(temp, 'runner-temp'))
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? temp,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: file('event.json'),
    GITHUB_OUTPUT: file('output'),
    GITHUB_STEP_SUMMARY: file('summary.md'),
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'Codertocat/Hello-World',
    GITHUB_SHA: nextSha(),
    GITHUB_REF: 'refs/heads/main',
    GITHUB_ACTOR: 'Codertocat',
    GITHUB_RUN_ID: '1234567890',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.invalid',
    RUNNER_TEMP: path.join(temp, 'runner-temp'),
    RUNNER_OS: 'Linux',
    ...inputEnv({ mode: 'deployment', ...sshInputs(sshd, dir) })
  }
  let log = ''
  const start = performance.now()
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [bundle], {
      cwd: workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')))
    child.on('error', reject)
    child.on('close', exit => resolve(exit ?? 1))
  })
  const ms = performance.now() - start
  const outputs = parseOutputFile(readFileSync(env.GITHUB_OUTPUT, 'utf8'))
  rmSync(temp, { recursive: true, force: true })
  if (code !== 0 || outputs.status !== 'deployed')
    throw new Error(`${bundle} exited ${code}:\n${log.slice(-3000)}`)
  return { ms, groups: parseGroups(log) }
}
