/**
 * The fleet figure of `npm run bench`: one tree deployed in full to 1 and to 8 loopback sshd
 * servers (each its own user, one client key authorised on all), gated-deploy against `tar | ssh`
 * (one tar stream piped to 8 ssh processes started together). Every result is checked file by
 * file, byte for byte, on every server.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { startFleet } from '../__tests__/rig/server-kinds.js'
import { makeKeyPair, type Sshd } from '../__tests__/rig/sshd.js'
import { listFiles } from './fixtures.js'
import { median, ratio, seconds, spread, table } from './report.js'
import { gatedDeployWith, q, type Sample } from './tools.js'

export const FLEET_SIZE = 8

export interface Fleet {
  readonly hosts: readonly Sshd[]
  readonly privateKey: string
  readonly privateKeyPath: string
  readonly knownHostsPath: string
}

/** `count` sshd servers (users gdtest-fleet1…N) sharing one client key, with its files in `dir`. */
export async function startBenchFleet(dir: string, count = FLEET_SIZE): Promise<Fleet> {
  const key = await makeKeyPair()
  const hosts = await startFleet(count, { authorizedKeys: [key.publicKey] })
  const privateKeyPath = path.join(dir, 'fleet_key')
  const knownHostsPath = path.join(dir, 'fleet_known_hosts')
  writeFileSync(privateKeyPath, key.privateKey, { mode: 0o600 })
  writeFileSync(knownHostsPath, hosts.map(h => h.knownHostsLine).join('\n') + '\n')
  return { hosts, privateKey: key.privateKey, privateKeyPath, knownHostsPath }
}

/** gated-deploy, mode deployment, to `hosts` at once; `app` is relative (in each user's home). */
export function gatedDeployFleet(
  fleet: Fleet,
  hosts: readonly Sshd[],
  workspace: string,
  app: string
): Promise<Sample> {
  return gatedDeployWith(workspace, {
    hosts: hosts.map(h => `${h.username}@127.0.0.1:${h.port}`).join(', '),
    'private-key': fleet.privateKey,
    'known-hosts': hosts.map(h => h.knownHostsLine).join('\n'),
    'remote-path': app,
    artifact: 'dist'
  })
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let err = ''
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code =>
      code === 0 ? resolve() : reject(new Error(`${what}: exit ${code}\n${err.slice(-2000)}`))
    )
  })
}

/**
 * `tar cf - -C src .` once, its stream piped to one `ssh host 'mkdir -p app && tar xf - -C app'`
 * per host, all started together; done when tar and every ssh have exited 0.
 */
export async function tarPipeFleet(
  fleet: Fleet,
  hosts: readonly Sshd[],
  src: string,
  app: string
): Promise<Sample> {
  const start = performance.now()
  const tar = spawn('tar', ['cf', '-', '-C', src, '.'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const remote = `mkdir -p ${q(app)} && tar xf - -C ${q(app)}`
  const sshs = hosts.map(h =>
    spawn(
      'ssh',
      [
        '-p',
        String(h.port),
        '-i',
        fleet.privateKeyPath,
        '-o',
        `UserKnownHostsFile=${fleet.knownHostsPath}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        `${h.username}@127.0.0.1`,
        remote
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] }
    )
  )
  // Node's pipe to several writers waits for the slowest: the one stream feeds all at its pace.
  for (const ssh of sshs) {
    // A host that dies early (EPIPE) is reported by its exit status below.
    ssh.stdin.on('error', () => undefined)
    tar.stdout.pipe(ssh.stdin)
  }
  await Promise.all([
    exited(tar, 'tar cf'),
    ...sshs.map((ssh, i) => exited(ssh, `ssh to ${hosts[i]?.port ?? '?'}`))
  ])
  return { ms: performance.now() - start }
}

/** Every regular file of a tree, by relative path, read once. */
export type Contents = ReadonlyMap<string, Buffer>

export function readTree(root: string): Contents {
  return new Map(listFiles(root).map(rel => [rel, readFileSync(path.join(root, rel))]))
}

/** Throws unless `remote` holds exactly the files of `want`, each byte for byte the same. */
export function verifyExact(want: Contents, remote: string): void {
  const got = listFiles(remote)
  const missing = [...want.keys()].filter(rel => !got.includes(rel))
  const extra = got.filter(rel => !want.has(rel))
  if (missing.length > 0 || extra.length > 0)
    throw new Error(
      `${remote}: ${missing.length} files missing (${missing.slice(0, 3).join(', ')}), ${extra.length} extra`
    )
  for (const [rel, bytes] of want) {
    if (!readFileSync(path.join(remote, rel)).equals(bytes))
      throw new Error(`${remote}/${rel} differs from the build`)
  }
}

type FleetTool = 'gated-deploy' | 'tar | ssh'
const fleetKey = (tool: FleetTool, n: number): string => `${tool}:${n}`

/** Samples of one run per (tool, host count), kept in run order for same-run ratios. */
export class FleetResults {
  private readonly samples = new Map<string, number[]>()

  add(tool: FleetTool, n: number, ms: number): void {
    const key = fleetKey(tool, n)
    this.samples.set(key, [...(this.samples.get(key) ?? []), ms])
  }

  get(tool: FleetTool, n: number): readonly number[] {
    return this.samples.get(fleetKey(tool, n)) ?? []
  }

  /** Median over runs of a / b, each pair from the same run. */
  pairedRatio(a: readonly number[], b: readonly number[]): string {
    const ratios = a.flatMap((x, i) => (b[i] === undefined ? [] : [x / b[i]]))
    return ratios.length > 0 ? `${median(ratios).toFixed(2)}×` : '—'
  }
}

/**
 * One run: into a fresh relative directory on every host, `tar | ssh` and gated-deploy to host 1
 * and to all hosts; each result checked on every host, then removed.
 */
export async function runFleet(
  fleet: Fleet,
  results: FleetResults,
  workspace: string,
  want: Contents,
  log: (line: string) => void,
  counts: readonly number[] = [1, fleet.hosts.length]
): Promise<void> {
  const tag = randomBytes(4).toString('hex')
  for (const hosts of counts.map(n => fleet.hosts.slice(0, n))) {
    const n = hosts.length
    const tarApp = `gd-bench-tar-${tag}-${n}`
    const tar = await tarPipeFleet(fleet, hosts, path.join(workspace, 'dist'), tarApp)
    for (const h of hosts) verifyExact(want, path.join(h.home, tarApp))
    results.add('tar | ssh', n, tar.ms)
    log(`  fleet:${n}:tar | ssh ${seconds(tar.ms)}`)
    const gdApp = `gd-bench-gd-${tag}-${n}`
    const gd = await gatedDeployFleet(fleet, hosts, workspace, gdApp)
    for (const h of hosts) verifyExact(want, path.join(h.home, gdApp, 'current'))
    results.add('gated-deploy', n, gd.ms)
    log(`  fleet:${n}:gated-deploy ${seconds(gd.ms)}`)
    await Promise.all(
      hosts.flatMap(h =>
        [tarApp, gdApp].map(app => rm(path.join(h.home, app), { recursive: true, force: true }))
      )
    )
  }
}

/**
 * The fleet table: medians, spread, and same-run ratios, for the server `counts` runFleet was
 * given; `where` qualifies the heading.
 */
export function fleetReport(
  results: FleetResults,
  title: string,
  runs: number,
  where = '',
  counts: readonly number[] = [1, FLEET_SIZE]
): string {
  const n = FLEET_SIZE
  const one = counts.includes(1)
  const header = ['deploy', 'tool', 'servers', 'median', 'min–max', `× tar|ssh`]
  if (one) header.push('× 1 server')
  const rows = (['gated-deploy', 'tar | ssh'] as const).flatMap((tool, t) =>
    counts.map((count, i) => {
      const ms = results.get(tool, count)
      return [
        t === 0 && i === 0 ? title : '',
        tool,
        String(count),
        seconds(median(ms)),
        spread(ms),
        tool === 'tar | ssh' ? '' : results.pairedRatio(ms, results.get('tar | ssh', count)),
        ...(one ? [count === 1 ? '' : results.pairedRatio(ms, results.get(tool, 1))] : [])
      ]
    })
  )
  const gd = median(results.get('gated-deploy', n))
  const tar = median(results.get('tar | ssh', n))
  return [
    `Fleet: full deploy to ${counts.join(' and to ')} sshd servers at once${where} (${runs} runs; ratios are medians of same-run ratios)`,
    table(header, rows),
    `  ${n} servers: gated-deploy ${seconds(gd)} vs ${n} × tar | ssh at once ${seconds(tar)} (${ratio(gd, tar)} of medians);` +
      ` every server checked file by file, byte for byte`
  ].join('\n')
}
