/**
 * The network cases of `npm run bench` (issue #14), after the loopback table and fleet figure:
 * - a 45-file 1 MB site through the latency proxy at 50 and 150 ms round trip: full into an
 *   empty directory (`tar | ssh`, gated-deploy, `rsync -a` for information), then one file
 *   changed and every mtime new, over the previous release (gated-deploy, `rsync -a` onto its
 *   copy of the previous tree);
 * - 5 × 100 MB files on loopback, full: `tar | ssh` against gated-deploy;
 * - the fleet figure's 8 servers (not 1) through one 50 ms proxy per server;
 * - reporting with a token against a GitHub stand-in answering 150 ms late (reporting.ts).
 * Every result is checked file by file; medians of `runs`, ratios of samples from the same run.
 *
 * The OpenSSH tools reach the proxy with the server's host key aliased to the proxy's port
 * (`[127.0.0.1]:<proxy port>` in known_hosts), gated-deploy with the same line as `known-hosts`.
 * The proxy adds no TCP-handshake round trip (the client's connect completes at once): every
 * tool's figure is a round trip short of a real network's.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { GitHubStandIn } from '../__tests__/rig/github-standin.js'
import { makeTestDir, type Sshd } from '../__tests__/rig/sshd.js'
import * as fixtures from './fixtures.js'
import * as fleets from './fleet.js'
import { startLatencyProxy, type LatencyProxy } from './latency-proxy.js'
import * as reporting from './reporting.js'
import { seconds, Series } from './report.js'
import * as tools from './tools.js'

export const ROUND_TRIPS = [50, 150] as const
export const FLEET_ROUND_TRIP = 50
export const BIG = { count: 5, size: 100 << 20 } as const

export interface NetworkSetup {
  /** Where fixtures, known_hosts files and (through TMPDIR) remote directories go. */
  readonly root: string
  readonly sshd: Sshd
  readonly fleet: fleets.Fleet
  /** The fleet figure's workspace (tree in `dist/`), its contents and its title. */
  readonly fleetWorkspace: string
  readonly fleetTree: fleets.Contents
  readonly fleetTitle: string
  readonly runs: number
  readonly log: (line: string) => void
}

/** Everything one bench run of these cases recorded. */
export interface NetworkResults {
  readonly runs: number
  /** Keys: `<rtt>:<full|inc>:<tool>`, `big:<tool>`, reporting.* keys; `…:sent` bytes. */
  readonly series: Series
  readonly fleet: fleets.FleetResults
  readonly fleetTitle: string
  readonly site: fixtures.TreeStats
}

const dist = (workspace: string): string => path.join(workspace, 'dist')

/** `sshd` as seen through a proxy on `port`: the same server, its host key aliased there. */
function throughProxy(sshd: Sshd, port: number, dir: string): Sshd {
  const alias = (publicKey: string): string => `[${sshd.host}]:${port} ${publicKey}`
  const knownHostsPath = path.join(dir, `known_hosts-${sshd.port}-via-${port}`)
  writeFileSync(knownHostsPath, `${alias(sshd.hostPublicKey)}\n`)
  return {
    host: sshd.host,
    port,
    username: sshd.username,
    home: sshd.home,
    shell: sshd.shell,
    software: sshd.software,
    privateKey: sshd.privateKey,
    publicKey: sshd.publicKey,
    privateKeyPath: sshd.privateKeyPath,
    password: sshd.password,
    hostPrivateKey: sshd.hostPrivateKey,
    hostPublicKey: sshd.hostPublicKey,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    knownHostsLine: alias(sshd.hostPublicKey),
    hostKeys: sshd.hostKeys.map(k => ({ ...k, knownHostsLine: alias(k.publicKey) })),
    knownHostsPath,
    dir: sshd.dir,
    pid: sshd.pid,
    stop: () => sshd.stop(),
    kill: () => sshd.kill(),
    logs: () => sshd.logs()
  }
}

interface Link {
  readonly rtt: number
  readonly via: Sshd
  readonly proxy: LatencyProxy
}

async function link(sshd: Sshd, rtt: number, dir: string): Promise<Link> {
  const proxy = await startLatencyProxy(sshd.port, rtt)
  return { rtt, via: throughProxy(sshd, proxy.port, dir), proxy }
}

/** The fleet with one proxy of `rtt` in front of each server. */
async function fleetThrough(
  fleet: fleets.Fleet,
  rtt: number,
  dir: string
): Promise<{ fleet: fleets.Fleet; proxies: LatencyProxy[] }> {
  const links = await Promise.all(fleet.hosts.map(h => link(h, rtt, dir)))
  const knownHostsPath = path.join(dir, `fleet_known_hosts-${rtt}`)
  writeFileSync(knownHostsPath, links.map(l => l.via.knownHostsLine).join('\n') + '\n')
  return {
    fleet: { ...fleet, hosts: links.map(l => l.via), knownHostsPath },
    proxies: links.map(l => l.proxy)
  }
}

interface Site {
  readonly v1: string
  readonly v2: string
  readonly want1: fleets.Contents
  readonly want2: fleets.Contents
}

/** One run of the site at one round trip: full by each tool, then the one-file change. */
async function runSite(
  l: Link,
  site: Site,
  series: Series,
  log: (line: string) => void
): Promise<void> {
  const into = (dir: string): string => path.join(dir, 'site')
  const record = (key: string, sample: tools.Sample): void => {
    series.add(`${l.rtt}:${key}`, sample.ms)
    if (sample.bytesUploaded !== undefined) series.add(`${l.rtt}:${key}:sent`, sample.bytesUploaded)
    log(`  ${l.rtt} ms:${key} ${seconds(sample.ms)}`)
  }
  const tarDir = await makeTestDir()
  record('full:tar | ssh', await tools.tarPipe(l.via, dist(site.v1), into(tarDir)))
  fleets.verifyExact(site.want1, into(tarDir))

  const gdDir = await makeTestDir()
  record('full:gated-deploy', await tools.gatedDeploy(l.via, site.v1, gdDir))
  fleets.verifyExact(site.want1, path.join(gdDir, 'current'))

  const rsyncDir = await makeTestDir()
  record('full:rsync -a', await tools.rsync(l.via, dist(site.v1), into(rsyncDir)))
  fleets.verifyExact(site.want1, into(rsyncDir))

  record('inc:gated-deploy', await tools.gatedDeploy(l.via, site.v2, gdDir))
  fleets.verifyExact(site.want2, path.join(gdDir, 'current'))
  record('inc:rsync -a', await tools.rsync(l.via, dist(site.v2), into(rsyncDir)))
  fleets.verifyExact(site.want2, into(rsyncDir))
  await Promise.all([tarDir, gdDir, rsyncDir].map(d => rm(d, { recursive: true, force: true })))
}

/** One run of the big files on loopback: `tar | ssh`, then gated-deploy, each checked by sha256. */
async function runBig(
  sshd: Sshd,
  workspace: string,
  want: ReadonlyMap<string, string>,
  series: Series,
  log: (line: string) => void
): Promise<void> {
  let dir = await makeTestDir()
  const tar = await tools.tarPipe(sshd, dist(workspace), path.join(dir, 'site'))
  await fixtures.verifyDigests(want, path.join(dir, 'site'))
  await rm(dir, { recursive: true, force: true })
  series.add('big:tar | ssh', tar.ms)
  log(`  big:tar | ssh ${seconds(tar.ms)}`)
  dir = await makeTestDir()
  const gd = await tools.gatedDeploy(sshd, workspace, dir)
  await fixtures.verifyDigests(want, path.join(dir, 'current'))
  await rm(dir, { recursive: true, force: true })
  series.add('big:gated-deploy', gd.ms)
  log(`  big:gated-deploy ${seconds(gd.ms)}`)
}

/** Makes the fixtures, starts the proxies and the stand-in, runs every case `runs` times. */
export async function runNetwork(setup: NetworkSetup): Promise<NetworkResults> {
  const { root, sshd, log } = setup
  const base = path.join(root, 'network')
  mkdirSync(base)
  const started = performance.now()
  const site = {
    v1: path.join(base, 'ws-site-1'),
    v2: path.join(base, 'ws-site-2')
  }
  fixtures.makeSite(dist(site.v1))
  // One file of the 45 rewritten (every 45th), every mtime new.
  const increment = fixtures.makeIncrement(dist(site.v1), dist(site.v2), 45)
  if (increment.changed.length !== 1)
    throw new Error(`the site's increment changed ${increment.changed.length} files, not 1`)
  const siteFull: Site = {
    ...site,
    want1: fleets.readTree(dist(site.v1)),
    want2: fleets.readTree(dist(site.v2))
  }
  const big = path.join(base, 'ws-big')
  fixtures.makeBigFiles(dist(big), BIG.count, BIG.size)
  const bigWant = await fixtures.digestTree(dist(big))
  log(`network fixtures made in ${seconds(performance.now() - started)}`)

  const proxies: LatencyProxy[] = []
  let github: GitHubStandIn | undefined
  try {
    const links = await Promise.all(ROUND_TRIPS.map(rtt => link(sshd, rtt, base)))
    proxies.push(...links.map(l => l.proxy))
    const far = await fleetThrough(setup.fleet, FLEET_ROUND_TRIP, base)
    proxies.push(...far.proxies)
    github = await reporting.startSlowGitHub()

    const series = new Series()
    const fleet = new fleets.FleetResults()
    for (let r = 1; r <= setup.runs; r++) {
      for (const l of links) await runSite(l, siteFull, series, log)
      await runBig(sshd, big, bigWant, series, log)
      await fleets.runFleet(far.fleet, fleet, setup.fleetWorkspace, setup.fleetTree, log, [
        fleets.FLEET_SIZE
      ])
      await reporting.runReporting(github, sshd, site.v1, siteFull.want1, series, log)
      log(`network run ${r}/${setup.runs} done at ${seconds(performance.now() - started)}`)
    }
    return {
      runs: setup.runs,
      series,
      fleet,
      fleetTitle: setup.fleetTitle,
      site: fixtures.treeStats(dist(site.v1))
    }
  } finally {
    await Promise.all([...proxies.map(p => p.close()), github?.close()])
    await rm(base, { recursive: true, force: true })
  }
}
