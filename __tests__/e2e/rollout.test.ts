/**
 * Fleets end to end (issue 13): three real sshd servers, each with its own user, one deploy key.
 * Rolling batches with health checks (a command, and a URL the servers fetch themselves from an
 * HTTP server on 127.0.0.1 that tells the hosts apart by the user asking), switch-back of every
 * host already switched, retries of a server that refuses its first connections, and a second
 * run that waits for the first one's lock.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import path from 'node:path'
import { history, liveRelease, nextSha, readRemote, workspaceWith } from '../rig/deploy.js'
import { makeKeyPair } from '../rig/keys.js'
import { runAction, type RunResult } from '../rig/runner.js'
import { startFleet, startFlakyServer, type RefusingProxy } from '../rig/server-kinds.js'
import { stopAllSshd, type Sshd } from '../rig/sshd.js'

let hosts: Sshd[]
let privateKey: string
let publicKey: string
const apps: string[] = []

beforeAll(async () => {
  const key = await makeKeyPair()
  privateKey = key.privateKey
  publicKey = key.publicKey
  hosts = await startFleet(3, { authorizedKeys: [publicKey] })
})
afterAll(async () => {
  await stopAllSshd()
  for (const app of apps) {
    for (const host of hosts) rmSync(path.join(host.home, app), { recursive: true, force: true })
  }
})

/** A fresh relative remote path (the same on every host, each in its user's home). */
function newApp(): string {
  const app = `rollout-${randomBytes(4).toString('hex')}`
  apps.push(app)
  return app
}

const where = (host: Sshd): string => `127.0.0.1:${host.port}`
const appOn = (host: Sshd, app: string): string => path.join(host.home, app)

function run(options: {
  on: readonly Sshd[]
  app: string
  files?: Record<string, string>
  inputs?: Record<string, string>
}): Promise<RunResult> {
  return runAction({
    workspace: workspaceWith(options.files ?? { 'index.html': 'x' }),
    inputs: {
      mode: 'deployment',
      hosts: options.on.map(h => `${h.username}@127.0.0.1:${h.port}`).join(', '),
      'private-key': privateKey,
      'known-hosts': options.on.map(h => h.knownHostsLine).join('\n'),
      'remote-path': options.app,
      artifact: 'dist',
      ...options.inputs
    },
    env: { GITHUB_SHA: nextSha() }
  })
}

interface HostOutput {
  host: string
  release: string
  previousRelease: string | null
  status: string
  batch: number | null
  timings: Record<string, number>
}

function numbers(value: unknown): Record<string, number> {
  if (typeof value !== 'object' || value === null) return {}
  return Object.fromEntries(
    Object.entries(value).flatMap(([k, v]: [string, unknown]) =>
      typeof v === 'number' ? [[k, v]] : []
    )
  )
}

function hostsOutput(result: RunResult): HostOutput[] {
  const parsed: unknown = JSON.parse(result.outputs.hosts ?? 'null')
  if (!Array.isArray(parsed)) throw new Error(`no hosts output: ${result.outputs.hosts ?? ''}`)
  return parsed.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) throw new Error('bad hosts entry')
    const e = entry as Record<string, unknown>
    return {
      host: String(e.host),
      release: String(e.release),
      previousRelease: typeof e.previousRelease === 'string' ? e.previousRelease : null,
      status: String(e.status),
      batch: typeof e.batch === 'number' ? e.batch : null,
      timings: numbers(e.timings)
    }
  })
}

/** A first good release on every host, to switch back to. */
async function baseline(app: string): Promise<string> {
  const first = await run({ on: hosts, app, files: { 'index.html': 'v1' } })
  expect(first.log).not.toContain('::error::')
  const release = first.outputs.release ?? ''
  for (const host of hosts) expect(liveRelease(appOn(host, app))).toBe(release)
  return release
}

describe('rollout', () => {
  it('all at once: every host switched, health-checked, and described in the hosts output', async () => {
    const app = newApp()
    const result = await run({
      on: hosts,
      app,
      inputs: {
        'health-check-command': 'test -f index.html && echo "ok on $(id -un)"',
        // One host connected to and staged on at a time.
        'max-parallel': '1'
      }
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    const out = hostsOutput(result)
    expect(out.map(h => h.host)).toEqual(hosts.map(where))
    for (const entry of out) {
      expect(entry).toMatchObject({ release: result.outputs.release, status: 'deployed', batch: 1 })
      expect(entry.timings.stage).toEqual(expect.any(Number))
      expect(entry.timings.activate).toEqual(expect.any(Number))
      expect(entry.timings.health).toEqual(expect.any(Number))
    }
    for (const host of hosts) {
      expect(liveRelease(appOn(host, app))).toBe(result.outputs.release)
      expect(result.log).toContain(`${where(host)}: healthy`)
    }
  })

  it('a staging failure on host 2 switches no host and removes what the others staged', async () => {
    const app = newApp()
    const before = await baseline(app)
    const two = hosts[1]
    if (!two) throw new Error('three hosts')
    const locked = path.join(appOn(two, app), 'releases')
    chmodSync(locked, 0o555)
    try {
      const result = await run({ on: hosts, app, files: { 'index.html': 'v2' } })
      expect(result.exitCode).toBe(1)
      expect(result.log).toContain(where(two))
      expect(result.log).not.toContain('::group::activate')
      for (const host of hosts) {
        expect(liveRelease(appOn(host, app))).toBe(before)
        expect(readdirSync(path.join(appOn(host, app), 'releases'))).toEqual([before])
        expect(existsSync(path.join(appOn(host, app), '.gated-deploy', 'lock'))).toBe(false)
      }
    } finally {
      chmodSync(locked, 0o755)
    }
  })

  it('rolling: an unhealthy host 2 switches hosts 1-2 back, host 3 is never switched, and the run names host 2', async () => {
    const app = newApp()
    const before = await baseline(app)
    const [one, two, three] = hosts
    if (!one || !two || !three) throw new Error('three hosts')
    const result = await run({
      on: hosts,
      app,
      files: { 'index.html': 'v2' },
      inputs: {
        rollout: 'rolling',
        'health-check-command': `echo "checking on $(id -un)"; if [ "$(id -un)" = ${two.username} ]; then echo "database unreachable"; exit 7; fi`,
        'health-check-timeout': '2'
      }
    })
    expect(result.exitCode).toBe(1)
    const error = /::error::(.*)/.exec(result.log)?.[1] ?? ''
    expect(error).toContain(`${where(two)}: unhealthy: health-check-command`)
    expect(error).toContain('exit 7')
    expect(error).toContain('database unreachable')
    expect(error).not.toContain(`${where(one)}: unhealthy`)
    expect(error).toContain(`Never switched (later batches): ${where(three)}`)
    // Retried with backoff within the timeout before it counted.
    expect(result.log).toContain(`${where(two)}: health-check-command`)
    expect(result.log).toMatch(/trying again in 0\.5 s/)
    for (const host of hosts) {
      expect(liveRelease(appOn(host, app))).toBe(before)
      expect(readRemote(appOn(host, app), 'current', 'index.html')).toBe('v1')
    }
    // Host 3 never saw the new release go live; hosts 1 and 2 record the switch back.
    const activations = (host: Sshd): string[] =>
      history(appOn(host, app))
        .filter(h => h.event === 'activate')
        .map(h => h.release)
    expect(activations(three)).toEqual([before])
    expect(activations(one)).toHaveLength(2)
    expect(history(appOn(one, app)).map(h => h.event)).toContain('rollback-after-failure')
    expect(result.log).not.toContain(`Batch 3 of 3`)
    const out = hostsOutput(result)
    expect(out.map(h => [h.status, h.batch])).toEqual([
      ['switched-back', 1],
      ['switched-back', 2],
      ['not-switched', null]
    ])
    // The job summary shows each host's status and batch.
    expect(result.summary).toContain('| Host | Release | Previous | Status | Batch |')
    expect(result.summary).toMatch(
      new RegExp(`\\| <code>${where(two)}</code> \\|[^\\n]*\\| switched-back \\| 2 \\|`)
    )
    expect(result.summary).toMatch(
      new RegExp(`\\| <code>${where(three)}</code> \\|[^\\n]*\\| not-switched \\| — \\|`)
    )
  })

  it('rolling: a connection lost on host 2 switches host 1 back and never touches host 3', async () => {
    const app = newApp()
    const before = await baseline(app)
    const [one, two, three] = hosts
    if (!one || !two || !three) throw new Error('three hosts')
    // On host 2, before-activate kills the user's own sshd process: the connection drops.
    const killSession =
      'p=$$; while [ "$p" -gt 1 ]; do if [ "$(cat /proc/$p/comm)" = sshd ]; then kill -9 "$p"; sleep 5; fi; p=$(cut -d" " -f4 /proc/$p/stat); done'
    const result = await run({
      on: hosts,
      app,
      files: { 'index.html': 'v2' },
      inputs: {
        rollout: 'rolling',
        'before-activate': `[ "$(id -un)" != ${two.username} ] || { ${killSession}; }`
      }
    })
    expect(result.exitCode).toBe(1)
    const error = /::error::(.*)/.exec(result.log)?.[1] ?? ''
    expect(error).toMatch(new RegExp(`${where(two)}: (connection lost|the connection closed)`))
    expect(error).toContain(`Switched back to the previous release: ${where(one)}.`)
    expect(error).toContain(`Never switched (later batches): ${where(three)}`)
    for (const host of [one, three]) {
      expect(liveRelease(appOn(host, app))).toBe(before)
      expect(readRemote(appOn(host, app), 'current', 'index.html')).toBe('v1')
    }
    expect(liveRelease(appOn(two, app))).toBe(before)
  })

  it('rolling with rollback-on-failure off leaves the switched hosts on the new release', async () => {
    const app = newApp()
    const before = await baseline(app)
    const [one, two, three] = hosts
    if (!one || !two || !three) throw new Error('three hosts')
    const result = await run({
      on: hosts,
      app,
      files: { 'index.html': 'v2' },
      inputs: {
        rollout: 'rolling',
        'rollout-batch-size': '50%',
        'rollback-on-failure': 'false',
        'after-activate': `[ "$(id -un)" != ${three.username} ] || { echo "reload failed"; exit 1; }`
      }
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain('`rollback-on-failure` is off')
    expect(liveRelease(appOn(one, app))).not.toBe(before)
    expect(liveRelease(appOn(two, app))).not.toBe(before)
    // after-activate puts its own host back; the batch of 2 (50% of 3, rounded up) went first.
    expect(liveRelease(appOn(three, app))).toBe(before)
    expect(hostsOutput(result).map(h => [h.status, h.batch])).toEqual([
      ['left-switched', 1],
      ['left-switched', 1],
      ['failed', 2]
    ])
  })

  it('health-check-url: each server fetches its own URL; a 503 on host 2 fails the rolling deploy', async () => {
    const app = newApp()
    const before = await baseline(app)
    const two = hosts[1]
    if (!two) throw new Error('three hosts')
    const asked: string[] = []
    let unhealthy = ''
    const server = await startHealthServer(user => {
      asked.push(user)
      return user === unhealthy ? 503 : 200
    })
    try {
      const port = (server.address() as { port: number }).port
      const url = `http://{host}:${port}/health`
      const good = await run({
        on: hosts,
        app,
        files: { 'index.html': 'v2' },
        inputs: { rollout: 'rolling', 'health-check-url': url }
      })
      expect(good.log).not.toContain('::error::')
      expect(good.exitCode).toBe(0)
      // Fetched by each server itself (curl as its own user), once per host.
      expect([...asked].sort()).toEqual(hosts.map(h => h.username).sort())
      unhealthy = two.username
      const bad = await run({
        on: hosts,
        app,
        files: { 'index.html': 'v3' },
        inputs: { rollout: 'rolling', 'health-check-url': url, 'health-check-timeout': '1' }
      })
      expect(bad.exitCode).toBe(1)
      const error = /::error::(.*)/.exec(bad.log)?.[1] ?? ''
      expect(error).toContain(
        `${where(two)}: unhealthy: health-check-url http://127.0.0.1:${port}/health (fetched on the server)`
      )
      expect(error).toContain('HTTP status 503 (expected 200-399)')
      for (const host of hosts) {
        expect(liveRelease(appOn(host, app))).toBe(good.outputs.release)
      }
      expect(before).not.toBe(good.outputs.release)
    } finally {
      server.close()
    }
  })

  it('rollback: true goes through the same batches and health checks', async () => {
    const app = newApp()
    const before = await baseline(app)
    const next = await run({ on: hosts, app, files: { 'index.html': 'v2' } })
    expect(next.exitCode).toBe(0)
    const back = await run({
      on: hosts,
      app,
      inputs: {
        rollback: 'true',
        rollout: 'rolling',
        'health-check-command': 'grep -q v1 index.html'
      }
    })
    expect(back.log).not.toContain('::error::')
    expect(back.outputs.status).toBe('rolled-back')
    expect(back.log).toContain('Batch 3 of 3')
    for (const host of hosts) {
      expect(liveRelease(appOn(host, app))).toBe(before)
      expect(back.log).toContain(`${where(host)}: healthy`)
    }
  })
})

describe('rollback over the fleet', () => {
  it('refuses a rollback target missing on one host before anything switches', async () => {
    const app = newApp()
    await baseline(app)
    const [one, two, three] = hosts
    if (!one || !two || !three) throw new Error('three hosts')
    const partial = await run({ on: [one, two], app, files: { 'index.html': 'v2' } })
    const latest = await run({ on: hosts, app, files: { 'index.html': 'v3' } })
    expect(latest.exitCode).toBe(0)
    const back = await run({
      on: hosts,
      app,
      inputs: { rollback: partial.outputs.release ?? '', rollout: 'rolling' }
    })
    expect(back.exitCode).toBe(1)
    expect(back.outputs.status).toBe('denied')
    expect(back.log).toContain(`is not staged on ${where(three)}`)
    for (const host of hosts) expect(liveRelease(appOn(host, app))).toBe(latest.outputs.release)
  })

  it('a rolling rollback unhealthy on host 2 switches hosts 1-2 forward again and names host 2', async () => {
    const app = newApp()
    const before = await baseline(app)
    const two = hosts[1]
    if (!two) throw new Error('three hosts')
    const latest = await run({ on: hosts, app, files: { 'index.html': 'v2' } })
    const back = await run({
      on: hosts,
      app,
      inputs: {
        rollback: 'true',
        rollout: 'rolling',
        'health-check-command': `[ "$(id -un)" != ${two.username} ] || { echo "old schema"; exit 1; }`,
        'health-check-timeout': '1'
      }
    })
    expect(back.exitCode).toBe(1)
    const error = /::error::(.*)/.exec(back.log)?.[1] ?? ''
    expect(error).toContain(`${where(two)}: unhealthy`)
    expect(error).toContain('old schema')
    for (const host of hosts) expect(liveRelease(appOn(host, app))).toBe(latest.outputs.release)
    expect(hostsOutput(back).map(h => [h.release, h.status])).toEqual([
      [before, 'switched-back'],
      [before, 'switched-back'],
      [before, 'not-switched']
    ])
  })
})

describe('connections and locks', () => {
  let flaky: RefusingProxy
  beforeAll(async () => {
    flaky = await startFlakyServer(
      { refuseFirst: 2, how: 'reset' },
      { authorizedKeys: [publicKey] }
    )
  })

  it('retries a server that refuses its first two connections, and deploys', async () => {
    const app = newApp()
    const result = await run({ on: [flaky], app, files: { 'index.html': 'flaky' } })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(flaky.refused()).toBe(2)
    expect(result.log).toContain('Trying again in 1 s')
    expect(result.log).toContain('Trying again in 2 s')
    expect(readRemote(appOn(flaky, app), 'current', 'index.html')).toBe('flaky')
  })

  it('never retries a refused login', async () => {
    const app = newApp()
    const other = await makeKeyPair()
    const result = await runAction({
      workspace: workspaceWith({ 'index.html': 'x' }),
      inputs: {
        mode: 'deployment',
        hosts: `${flaky.username}@127.0.0.1:${flaky.port}`,
        'private-key': other.privateKey,
        'known-hosts': flaky.knownHostsLine,
        'remote-path': app,
        artifact: 'dist'
      },
      env: { GITHUB_SHA: nextSha() }
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).not.toContain('Trying again')
  })

  it('a second run with lock-timeout waits for the first, then deploys', async () => {
    const app = newApp()
    await baseline(app)
    const slow = run({
      on: hosts,
      app,
      files: { 'index.html': 'first' },
      inputs: { 'before-activate': 'sleep 4' }
    })
    // The second starts once the first holds every lock.
    const lock = (host: Sshd): string => path.join(appOn(host, app), '.gated-deploy', 'lock')
    await waitFor(() => hosts.every(h => existsSync(lock(h))))
    const second = await run({
      on: hosts,
      app,
      files: { 'index.html': 'second' },
      inputs: { 'lock-timeout': '60' }
    })
    const first = await slow
    expect(first.exitCode).toBe(0)
    expect(second.log).not.toContain('::error::')
    expect(second.exitCode).toBe(0)
    expect(second.log).toContain('another deploy is running')
    expect(second.log).toContain('Waiting (`lock-timeout`: 60 s)')
    for (const host of hosts) {
      expect(readRemote(appOn(host, app), 'current', 'index.html')).toBe('second')
    }
  })

  it('a lock held past lock-timeout fails naming its holder', async () => {
    const app = newApp()
    await baseline(app)
    const slow = run({
      on: hosts,
      app,
      files: { 'index.html': 'first' },
      inputs: { 'before-activate': 'sleep 6' }
    })
    const lock = (host: Sshd): string => path.join(appOn(host, app), '.gated-deploy', 'lock')
    await waitFor(() => hosts.every(h => existsSync(lock(h))))
    const second = await run({ on: hosts, app, inputs: { 'lock-timeout': '2' } })
    expect(second.exitCode).toBe(1)
    const error = /::error::(.*)/.exec(second.log)?.[1] ?? ''
    expect(error).toContain('another deploy is running')
    expect(error).toMatch(/Waited \d+(\.\d)? s of `lock-timeout` \(2 s\)/)
    expect((await slow).exitCode).toBe(0)
  })
})

async function waitFor(ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * An HTTP server on 127.0.0.1 answering with `status(user)`, where `user` is the login of the
 * process that connected (read from /proc/net/tcp): each fleet server runs curl as its own user,
 * so one server stands for one application per host.
 */
async function startHealthServer(status: (user: string) => number): Promise<Server> {
  const server = createServer((request, response) => {
    const user = userOf(request.socket.remotePort ?? 0, request.socket.localPort ?? 0)
    response.statusCode = status(user)
    response.end(user)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return server
}

function userOf(clientPort: number, serverPort: number): string {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0')
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields[1]?.endsWith(`:${hex(clientPort)}`) && fields[2]?.endsWith(`:${hex(serverPort)}`)) {
      return execFileSync('id', ['-nu', fields[7] ?? ''], { encoding: 'utf8' }).trim()
    }
  }
  return 'unknown'
}
