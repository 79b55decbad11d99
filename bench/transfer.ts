/**
 * `npm run bench`: full and incremental deploys over one throwaway loopback sshd, gated-deploy's
 * bundle against scp, rsync, `tar | ssh` and node-ssh. BENCH_RUNS (default 5) repetitions; medians.
 * Then the fleet figure (fleet.ts): the web build to 1 and to 8 sshd servers at once, in each of
 * the first BENCH_FLEET_RUNS (default BENCH_RUNS) runs. Then the network cases of issue #14
 * (network.ts): round trips through a delaying proxy, 5 × 100 MB files, 8 hosts far away, and
 * the cost of reporting to a slow GitHub API. BENCH_ONLY=network runs only those.
 */
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ROOT } from '../__tests__/rig/runner.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../__tests__/rig/sshd.js'
import * as fixtures from './fixtures.js'
import * as fleets from './fleet.js'
import { runNetwork } from './network.js'
import { networkReport } from './network-report.js'
import { median, megabytes, ratio, seconds, spread, table, verdict } from './report.js'
import * as tools from './tools.js'

const RUNS = Math.max(1, Number.parseInt(process.env.BENCH_RUNS ?? '5', 10) || 5)
const FLEET_RUNS = Math.min(
  RUNS,
  Math.max(0, Number.parseInt(process.env.BENCH_FLEET_RUNS ?? String(RUNS), 10) || 0)
)
/** BENCH_ONLY=network: only the network cases (issue #14); unset: everything. */
const ONLY = process.env.BENCH_ONLY ?? ''
const TOOLS = ['tar | ssh', 'gated-deploy', 'scp -r', 'rsync -a', 'node-ssh putDirectory'] as const
type Tool = (typeof TOOLS)[number]
type Phase = 'full' | 'inc'

interface Scenario {
  readonly key: string
  readonly title: string
  /** Workspaces holding `dist/`: the first build and the 1%-changed fresh build. */
  readonly v1: string
  readonly v2: string
  readonly stats: fixtures.TreeStats
  readonly increment: fixtures.Increment
  /** node-ssh needs ~0.14 s a file here: it ships this tree once and is scaled by `nodeSshScale`. */
  readonly nodeSshTree: string
  readonly nodeSshScale: number
}

interface Recorded extends tools.Sample {
  readonly execs?: number
}

const samples = new Map<string, Recorded[]>()
const notes = new Map<string, string>()
const fixed = { node: [] as number[], ssh: [] as number[] }
const slot = (s: Scenario, phase: Phase, tool: Tool): string => `${s.key}:${phase}:${tool}`

function record(key: string, sample: Recorded, note: string | undefined): void {
  samples.set(key, [...(samples.get(key) ?? []), sample])
  process.stderr.write(`  ${key} ${seconds(sample.ms)}\n`)
  const text = note ?? sample.note
  if (text !== undefined && !notes.has(key)) notes.set(key, text)
}

const dist = (workspace: string): string => path.join(workspace, 'dist')

/** Exec requests sshd logged so far (LogLevel DEBUG1). */
const execCount = (sshd: Sshd): number => sshd.logs().split('req exec').length - 1

async function runScenario(sshd: Sshd, s: Scenario, first: boolean): Promise<void> {
  const changed = s.increment.changed
  const v1 = dist(s.v1)
  const v2 = dist(s.v2)
  const into = (dir: string): string => path.join(dir, 'site')

  let dir = await makeTestDir()
  let sample: tools.Sample = await tools.tarPipe(sshd, v1, into(dir))
  record(slot(s, 'full', 'tar | ssh'), sample, fixtures.verifyTree(v1, into(dir)))
  await rm(dir, { recursive: true, force: true })
  dir = await makeTestDir()
  sample = await tools.tarPipe(sshd, v2, into(dir))
  record(slot(s, 'inc', 'tar | ssh'), sample, fixtures.verifyTree(v2, into(dir), changed))
  await rm(dir, { recursive: true, force: true })

  dir = await makeTestDir()
  for (const [phase, ws] of [
    ['full', s.v1],
    ['inc', s.v2]
  ] as const) {
    const before = execCount(sshd)
    sample = await tools.gatedDeploy(sshd, ws, dir)
    const execs = first ? { execs: execCount(sshd) - before } : {}
    const live = path.join(dir, 'current')
    const note = fixtures.verifyTree(dist(ws), live, phase === 'inc' ? changed : [])
    record(slot(s, phase, 'gated-deploy'), { ...sample, ...execs }, note)
  }
  await rm(dir, { recursive: true, force: true })

  dir = await makeTestDir()
  sample = await tools.scp(sshd, v1, into(dir))
  record(slot(s, 'full', 'scp -r'), sample, fixtures.verifyTree(v1, into(dir)))
  await rm(dir, { recursive: true, force: true })

  dir = await makeTestDir()
  sample = await tools.rsync(sshd, v1, into(dir))
  record(slot(s, 'full', 'rsync -a'), sample, fixtures.verifyTree(v1, into(dir)))
  // The fresh build (all mtimes new) into the previous tree, as a CI job would run it.
  sample = await tools.rsync(sshd, v2, into(dir))
  record(slot(s, 'inc', 'rsync -a'), sample, fixtures.verifyTree(v2, into(dir), changed))
  await rm(dir, { recursive: true, force: true })

  if (!first) return
  dir = await makeTestDir()
  const sampled = await tools.nodeSsh(sshd, s.nodeSshTree, into(dir))
  const missing = fixtures.verifyTree(s.nodeSshTree, into(dir))
  const scaled = s.nodeSshScale === 1 ? '1 run' : `1 run of ${s.nodeSshScale}× fewer files, scaled`
  record(
    slot(s, 'full', 'node-ssh putDirectory'),
    { ...sampled, ms: sampled.ms * s.nodeSshScale },
    [scaled, missing && `${missing} (dotfiles)`].filter(Boolean).join('; ')
  )
  await rm(dir, { recursive: true, force: true })
}

function makeScenario(
  root: string,
  key: string,
  title: string,
  make: (dir: string) => void,
  nodeSsh?: { make: (dir: string) => void; scale: number }
): Scenario {
  const v1 = path.join(root, `ws-${key}-1`)
  const v2 = path.join(root, `ws-${key}-2`)
  make(dist(v1))
  const increment = fixtures.makeIncrement(dist(v1), dist(v2))
  const sample = path.join(root, `node-ssh-${key}`)
  nodeSsh?.make(sample)
  return {
    key,
    title,
    v1,
    v2,
    stats: fixtures.treeStats(dist(v1)),
    increment,
    nodeSshTree: nodeSsh ? sample : dist(v1),
    nodeSshScale: nodeSsh?.scale ?? 1
  }
}

const BUNDLE = path.join(ROOT, 'dist', 'index.js')
const bundleHash = (): string =>
  createHash('sha256').update(readFileSync(BUNDLE)).digest('hex').slice(0, 12)

async function machine(sshd: Sshd): Promise<string> {
  const first = (text: string): string => text.trim().split('\n')[0] ?? '?'
  const [ssh, rsync, tar, passwd] = await Promise.all([
    tools.run('ssh', ['-V']),
    tools.run('rsync', ['--version']),
    tools.run('tar', ['--version']),
    tools.run('getent', ['passwd', sshd.username])
  ])
  const hash = bundleHash()
  const committed = await tools
    .run('git', ['-C', ROOT, 'diff', '--quiet', 'HEAD', '--', 'dist'])
    .then(() => 'as committed at HEAD')
    .catch(() => 'DIFFERS from HEAD')
  return [
    `machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, ${first(ssh)}`,
    `         ${first(rsync)}, ${first(tar)}`,
    `sshd:    127.0.0.1:${sshd.port}, login ${sshd.username} (shell ${passwd.trim().split(':')[6] ?? '?'})`,
    `bundle:  dist/index.js sha256 ${hash}…, ${committed}, built ${statSync(BUNDLE).mtime.toISOString()}`
  ].join('\n')
}

function row(s: Scenario, phase: Phase, tool: Tool, label: string, extra: string): string[] {
  const got = samples.get(slot(s, phase, tool)) ?? []
  const base = median((samples.get(slot(s, phase, 'tar | ssh')) ?? []).map(x => x.ms))
  const ms = got.map(x => x.ms)
  const stage = got.flatMap(x => (x.groups?.stage === undefined ? [] : [x.groups.stage]))
  return [
    label,
    phase === 'full'
      ? tool
      : `${tool} ${tool === 'gated-deploy' ? '' : tool === 'rsync -a' ? '(fresh build)' : '(full again)'}`.trim(),
    seconds(median(ms)),
    spread(ms),
    ratio(median(ms), base),
    stage.length > 0 ? seconds(median(stage)) : '',
    extra,
    notes.get(slot(s, phase, tool)) ?? ''
  ]
}

function report(scenarios: readonly Scenario[]): string {
  const out: string[] = []
  const header = ['deploy', 'tool', 'median', 'min–max', '× tar|ssh', 'stage', 'sent', 'note']
  const full = scenarios.flatMap(s =>
    TOOLS.map((tool, i) => {
      const sent = (samples.get(slot(s, 'full', tool)) ?? []).map(x => x.bytesUploaded ?? NaN)
      return row(
        s,
        'full',
        tool,
        i === 0 ? s.title : '',
        tool === 'gated-deploy' ? megabytes(median(sent)) : ''
      )
    })
  )
  out.push(`Full deploys into a fresh directory (${RUNS} runs)`, table(header, full))
  for (const s of scenarios) {
    const gd = median((samples.get(slot(s, 'full', 'gated-deploy')) ?? []).map(x => x.ms))
    const tar = median((samples.get(slot(s, 'full', 'tar | ssh')) ?? []).map(x => x.ms))
    out.push(
      `  target (${s.key}): gated-deploy ≤ 1.20× tar | ssh → ${ratio(gd, tar)} ${verdict(gd <= 1.2 * tar)}`
    )
  }
  const incRows = scenarios.flatMap(s => {
    const gdSent = median(
      (samples.get(slot(s, 'inc', 'gated-deploy')) ?? []).map(x => x.bytesUploaded ?? NaN)
    )
    const label = `(${s.key}) 1% changed`
    return [
      row(s, 'inc', 'gated-deploy', label, megabytes(gdSent)),
      row(s, 'inc', 'rsync -a', '', ''),
      row(s, 'inc', 'tar | ssh', '', megabytes(s.stats.bytes))
    ]
  })
  out.push(
    '',
    `Incremental deploys: 1% of files rewritten, every mtime new (${RUNS} runs)`,
    table(header, incRows)
  )
  for (const s of scenarios) {
    const gd = samples.get(slot(s, 'inc', 'gated-deploy')) ?? []
    const share = median(gd.map(x => x.bytesUploaded ?? NaN)) / s.stats.bytes
    const vsRsync =
      median(gd.map(x => x.ms)) /
      median((samples.get(slot(s, 'inc', 'rsync -a')) ?? []).map(x => x.ms))
    out.push(
      `  target (${s.key}): bytes sent ${(share * 100).toFixed(2)}% of ${megabytes(s.stats.bytes)} (< 5%) ${verdict(share < 0.05)}; ` +
        `time ${vsRsync.toFixed(2)}× rsync -a (≤ 1.50×) ${verdict(vsRsync <= 1.5)}`
    )
  }
  const groups = ['connect', 'package', 'lock', 'stage', 'activate']
  const gdHeader = ['gated-deploy', '', 'total', 'to 1st line', ...groups, 'rest', 'execs']
  const gdRows = scenarios.flatMap(s =>
    (['full', 'inc'] as const).map(phase => {
      const got = samples.get(slot(s, phase, 'gated-deploy')) ?? []
      const m = (pick: (x: Recorded) => number | undefined): number =>
        median(got.flatMap(x => pick(x) ?? []))
      const rest = m(
        x =>
          x.ms - (x.firstOutputMs ?? 0) - Object.values(x.groups ?? {}).reduce((a, b) => a + b, 0)
      )
      return [
        `(${s.key})`,
        phase === 'full' ? 'full' : '1%',
        seconds(m(x => x.ms)),
        seconds(m(x => x.firstOutputMs)),
        ...groups.map(g => seconds(m(x => x.groups?.[g]))),
        seconds(rest),
        String(m(x => x.execs))
      ]
    })
  )
  out.push(
    '',
    'Where gated-deploy spends its time (medians; package overlaps connect, shows only the wait after it)'
  )
  out.push(table(gdHeader, gdRows))
  out.push(
    `  fixed costs: node -e 0 ${seconds(median(fixed.node))}; ssh host true ${seconds(median(fixed.ssh))}`
  )
  return out.join('\n')
}

async function main(): Promise<void> {
  if (ONLY !== '' && ONLY !== 'network')
    throw new Error(
      `BENCH_ONLY=${ONLY}: the only value is \`network\` (the network cases); leave it unset to run everything`
    )
  const loopback = ONLY === ''
  const started = performance.now()
  // Everything (sshd dir, remote dirs, the runner's temp dirs, the trees) lands under one root.
  const root = mkdtempSync(path.join(os.tmpdir(), 'gd-bench-'))
  chmodSync(root, 0o755)
  process.env.TMPDIR = root
  process.once('exit', () => rmSync(root, { recursive: true, force: true }))
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      void stopAllSshd().finally(() => process.exit(130))
    })
  try {
    // The fleet serves the network cases too, through proxies.
    const [sshd, fleet] = await Promise.all([
      startSshd({ extraConfig: ['LogLevel DEBUG1'] }),
      fleets.startBenchFleet(root)
    ])
    const bundleAtStart = bundleHash()
    console.log(await machine(sshd))
    mkdirSync(path.join(root, 'trees'))
    const trees = path.join(root, 'trees')
    const scenarios = [
      ...(loopback
        ? [
            makeScenario(trees, 'a', '(a) 2,000 small', dir => fixtures.makeSmallFiles(dir, 2000), {
              make: dir => fixtures.makeSmallFiles(dir, 100),
              scale: 20
            })
          ]
        : []),
      makeScenario(trees, 'b', '(b) web build', fixtures.makeWebBuild)
    ]
    for (const s of scenarios)
      console.log(
        `trees:   (${s.key}) ${s.stats.files} files, ${megabytes(s.stats.bytes)}; 1%: ${s.increment.changed.length} files (${megabytes(s.increment.changedBytes)}) rewritten`
      )
    const web = scenarios.at(-1)
    if (web === undefined) throw new Error('no web build scenario')
    const webTree = fleets.readTree(dist(web.v1))
    const fleetResults = new fleets.FleetResults()
    const log = (line: string): void => void process.stderr.write(`${line}\n`)
    for (let r = 1; loopback && r <= RUNS; r++) {
      fixed.node.push(await tools.nodeStart())
      fixed.ssh.push(await tools.sshTrue(sshd))
      for (const s of scenarios) await runScenario(sshd, s, r === 1)
      if (r <= FLEET_RUNS) await fleets.runFleet(fleet, fleetResults, web.v1, webTree, log)
      process.stderr.write(`run ${r}/${RUNS} done at ${seconds(performance.now() - started)}\n`)
    }
    if (loopback) {
      console.log('')
      console.log(report(scenarios))
      if (FLEET_RUNS > 0)
        console.log(`\n${fleets.fleetReport(fleetResults, web.title, FLEET_RUNS)}`)
    }
    const network = await runNetwork({
      root,
      sshd,
      fleet,
      fleetWorkspace: web.v1,
      fleetTree: webTree,
      fleetTitle: web.title,
      runs: RUNS,
      log
    })
    console.log(`\n${networkReport(network)}`)
    if (bundleHash() !== bundleAtStart)
      console.log('\nWARNING: dist/index.js changed during the run; runs mixed two bundles.')
    console.log(`\n(bench took ${seconds(performance.now() - started)})`)
  } finally {
    await stopAllSshd()
    rmSync(root, { recursive: true, force: true })
  }
}

try {
  await main()
} catch (error: unknown) {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
