/**
 * `npx tsx bench/ab.ts <bundle A> <bundle B> [rounds]`: gated-deploy bundles compared under the
 * same load. Each round deploys every scenario full then 1% with A and with B (alternating which
 * goes first) and one `tar | ssh` of the full tree, so a load spike hits both bundles alike.
 * Prints medians per bundle of the total and of each log group, and the paired B/A ratio.
 * AB_SCENARIOS=a,b,c,d picks the trees (c: 20,000 small files, to see how a cost scales; d: 5 ×
 * 100 MB files);
 * AB_RAW=<file> writes every sample (ms) there as JSON.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { makeTestDir, startSshd, stopAllSshd } from '../__tests__/rig/sshd.js'
import { runBundle, type Run } from './bundle.js'
import * as fixtures from './fixtures.js'
import { median, seconds, table } from './report.js'
import * as tools from './tools.js'

const GROUPS = ['connect', 'package', 'lock', 'stage', 'activate'] as const

async function main(): Promise<void> {
  const [a, b, roundsText] = process.argv.slice(2)
  if (!a || !b) throw new Error('usage: npx tsx bench/ab.ts <bundle A> <bundle B> [rounds]')
  const bundles = [path.resolve(a), path.resolve(b)] as const
  const rounds = Number.parseInt(roundsText ?? '8', 10) || 8
  const root = mkdtempSync(path.join(os.tmpdir(), 'gd-ab-'))
  chmodSync(root, 0o755)
  process.env.TMPDIR = root
  const dist = (ws: string): string => path.join(ws, 'dist')
  // AB_SCENARIOS: a (2,000 small files), b (web build), c (20,000 small files), d (5 × 100 MB
  // files); default a,b.
  const wanted = (process.env.AB_SCENARIOS ?? 'a,b').split(',')
  const scenarios = [
    { key: 'a', make: (d: string) => fixtures.makeSmallFiles(d, 2000) },
    { key: 'b', make: fixtures.makeWebBuild },
    { key: 'c', make: (d: string) => fixtures.makeSmallFiles(d, 20000) },
    { key: 'd', make: (d: string) => fixtures.makeBigFiles(d, 5, 100 << 20) }
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
  if (process.env.AB_RAW) {
    const raw = Object.fromEntries([...runs].map(([key, list]) => [key, list.map(x => x.ms)]))
    writeFileSync(process.env.AB_RAW, JSON.stringify(raw, null, 1))
  }
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
