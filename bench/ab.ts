/**
 * `npx tsx bench/ab.ts <bundle A> <bundle B> [rounds]`: gated-deploy bundles compared under the
 * same load. Each round deploys every scenario full then 1% with A and with B (alternating which
 * goes first) and one `tar | ssh` of the full tree, so a load spike hits both bundles alike.
 * Prints medians per bundle of the total and of each log group, and the paired B/A ratio.
 * AB_SCENARIOS=a,b,c picks the trees (c: 20,000 small files, to see how a cost scales).
 */
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { nextSha, sshInputs } from '../__tests__/rig/deploy.js'
import { inputEnv, parseOutputFile } from '../__tests__/rig/runner.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../__tests__/rig/sshd.js'
import * as fixtures from './fixtures.js'
import { median, seconds, table } from './report.js'
import * as tools from './tools.js'

const GROUPS = ['connect', 'package', 'lock', 'stage', 'activate'] as const

interface Run {
  readonly ms: number
  readonly groups: Record<string, number>
}

/** `node <bundle>` in `workspace` as the runner runs it (see __tests__/rig/runner.ts). */
async function runBundle(bundle: string, sshd: Sshd, workspace: string, dir: string): Promise<Run> {
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
  return { ms, groups: tools.parseGroups(log) }
}

async function main(): Promise<void> {
  const [a, b, roundsText] = process.argv.slice(2)
  if (!a || !b) throw new Error('usage: npx tsx bench/ab.ts <bundle A> <bundle B> [rounds]')
  const bundles = [path.resolve(a), path.resolve(b)] as const
  const rounds = Number.parseInt(roundsText ?? '8', 10) || 8
  const root = mkdtempSync(path.join(os.tmpdir(), 'gd-ab-'))
  chmodSync(root, 0o755)
  process.env.TMPDIR = root
  const dist = (ws: string): string => path.join(ws, 'dist')
  // AB_SCENARIOS: a (2,000 small files), b (web build), c (20,000 small files); default a,b.
  const wanted = (process.env.AB_SCENARIOS ?? 'a,b').split(',')
  const scenarios = [
    { key: 'a', make: (d: string) => fixtures.makeSmallFiles(d, 2000) },
    { key: 'b', make: fixtures.makeWebBuild },
    { key: 'c', make: (d: string) => fixtures.makeSmallFiles(d, 20000) }
  ]
    .filter(s => wanted.includes(s.key))
    .map(({ key, make }) => {
      const v1 = path.join(root, `ws-${key}-1`)
      const v2 = path.join(root, `ws-${key}-2`)
      make(dist(v1))
      fixtures.makeIncrement(dist(v1), dist(v2))
      return { key, v1, v2 }
    })
  const runs = new Map<string, Run[]>()
  const add = (key: string, run: Run): void => {
    runs.set(key, [...(runs.get(key) ?? []), run])
  }
  try {
    const sshd = await startSshd()
    for (let r = 0; r < rounds; r++) {
      for (const s of scenarios) {
        const dir = await makeTestDir()
        const tar = await tools.tarPipe(sshd, dist(s.v1), path.join(dir, 'tar'))
        add(`${s.key}:full:tar|ssh`, { ms: tar.ms, groups: {} })
        const order = r % 2 === 0 ? [0, 1] : [1, 0]
        for (const i of order) {
          const into = path.join(dir, `gd${i}`)
          add(`${s.key}:full:${i}`, await runBundle(bundles[i] ?? '', sshd, s.v1, into))
          add(`${s.key}:inc:${i}`, await runBundle(bundles[i] ?? '', sshd, s.v2, into))
        }
        await rm(dir, { recursive: true, force: true })
      }
      process.stderr.write(`round ${r + 1}/${rounds} (load ${os.loadavg()[0]?.toFixed(2)})\n`)
    }
  } finally {
    await stopAllSshd()
    rmSync(root, { recursive: true, force: true })
  }
  const m = (key: string, pick: (x: Run) => number | undefined): number =>
    median((runs.get(key) ?? []).flatMap(x => pick(x) ?? []))
  const paired = (key: string, pick: (x: Run) => number | undefined): string => {
    const xs = runs.get(`${key}:0`) ?? []
    const ys = runs.get(`${key}:1`) ?? []
    const ratios = xs.flatMap((x, i) => {
      const [p, q] = [pick(x), ys[i] && pick(ys[i])]
      return p && q ? [q / p] : []
    })
    return `${median(ratios).toFixed(2)}×`
  }
  const header = ['deploy', 'bundle', 'total', ...GROUPS, 'B÷A total', 'B÷A stage']
  const rows = scenarios.flatMap(s =>
    (['full', 'inc'] as const).flatMap(phase =>
      [0, 1].map(i => [
        i === 0 ? `(${s.key}) ${phase}` : '',
        i === 0 ? 'A' : 'B',
        seconds(m(`${s.key}:${phase}:${i}`, x => x.ms)),
        ...GROUPS.map(g => seconds(m(`${s.key}:${phase}:${i}`, x => x.groups[g]))),
        i === 0 ? '' : paired(`${s.key}:${phase}`, x => x.ms),
        i === 0 ? '' : paired(`${s.key}:${phase}`, x => x.groups.stage)
      ])
    )
  )
  console.log(`A = ${bundles[0]}\nB = ${bundles[1]}\n${rounds} rounds, medians`)
  console.log(table(header, rows))
  for (const s of scenarios)
    console.log(`  tar | ssh (${s.key}) full: ${seconds(m(`${s.key}:full:tar|ssh`, x => x.ms))}`)
}

try {
  await main()
} catch (error: unknown) {
  console.error(`ab failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
