/**
 * The fleet inputs (issue 13) and the pure parts of a rollout: batches, bounded concurrency,
 * status ranges, health-check URLs and which connection errors are worth another try.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { INPUTS } from '../../src/action-io.js'
import {
  backoff,
  fetchedByServer,
  fetchStatus,
  inRanges,
  urlFor
} from '../../src/deploy/health/health.js'
import { batchesOf, settleLimited } from '../../src/deploy/rollout.js'
import { DeployError } from '../../src/errors.js'
import { InputError, parseStatusRanges, readSettings } from '../../src/inputs.js'
import { clearSecrets } from '../../src/mask.js'
import { transient } from '../../src/ssh/session.js'
import { inputEnv } from '../rig/runner.js'

const SHIP = {
  hosts: 'deploy@127.0.0.1:2222',
  password: 'pw',
  'remote-path': '/srv/app',
  'insecure-skip-host-key-check': 'true'
}

function withInputs(inputs: Record<string, string>): void {
  for (const name of INPUTS) delete process.env[`INPUT_${name.toUpperCase()}`]
  Object.assign(process.env, inputEnv({ ...SHIP, ...inputs }))
}

function problemsOf(inputs: Record<string, string>): string {
  withInputs(inputs)
  try {
    readSettings()
  } catch (error: unknown) {
    if (error instanceof InputError) return error.message
    throw error
  }
  throw new Error('expected an InputError')
}

beforeEach(() => {
  process.env.GITHUB_WORKSPACE = mkdtempSync(path.join(os.tmpdir(), 'gd-ws-'))
  clearSecrets()
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  return undefined
})
afterEach(() => {
  jest.restoreAllMocks()
})

describe('fleet inputs', () => {
  it('default to all at once, 10 in parallel, rollback on failure, no health check, no lock wait', () => {
    withInputs({})
    const ship = readSettings().ship
    expect(ship).toMatchObject({
      rollout: { kind: 'all-at-once' },
      maxParallel: 10,
      rollbackOnFailure: true,
      healthCheck: undefined,
      lockTimeoutSeconds: 0
    })
  })

  it('read a rolling rollout by count or share, and a full health check', () => {
    withInputs({
      rollout: 'rolling',
      'rollout-batch-size': '25%',
      'max-parallel': '3',
      'rollback-on-failure': 'false',
      'health-check-command': 'curl -fs localhost:3000/up',
      'health-check-url': 'http://{host}:8080/health',
      'health-check-expect': '200,204-206',
      'health-check-timeout': '15',
      'lock-timeout': '300'
    })
    expect(readSettings().ship).toMatchObject({
      rollout: { kind: 'rolling', batchSize: { percent: 25 } },
      maxParallel: 3,
      rollbackOnFailure: false,
      healthCheck: {
        command: 'curl -fs localhost:3000/up',
        url: 'http://{host}:8080/health',
        expect: [
          [200, 200],
          [204, 206]
        ],
        timeoutSeconds: 15
      },
      lockTimeoutSeconds: 300
    })
    withInputs({ rollout: 'rolling', 'rollout-batch-size': '2' })
    expect(readSettings().ship?.rollout).toEqual({ kind: 'rolling', batchSize: { count: 2 } })
  })

  it('name each bad value', () => {
    const message = problemsOf({
      rollout: 'canary',
      'rollout-batch-size': '0',
      'max-parallel': 'many',
      'rollback-on-failure': 'yes please',
      'health-check-url': 'localhost:8080',
      'health-check-expect': '200-',
      'health-check-timeout': '0',
      'lock-timeout': '-1'
    })
    expect(message).toContain('`rollout`: expected all-at-once or rolling, got "canary"')
    expect(message).toContain('`rollout-batch-size`: expected a number of hosts')
    expect(message).toContain('`max-parallel`: expected a whole number from 1 to 1000, got "many"')
    expect(message).toContain('`rollback-on-failure`: expected true or false')
    expect(message).toContain('`health-check-url`: "localhost:8080" is not an http(s) URL')
    expect(message).toContain('`health-check-expect`: expected HTTP status codes')
    expect(message).toContain('`health-check-timeout`: expected a whole number from 1 to 3600')
    expect(message).toContain('`lock-timeout`: expected a whole number from 0 to 21600, got "-1"')
    expect(problemsOf({ 'rollout-batch-size': '150%' })).toContain('`rollout-batch-size`')
  })
})

describe('rollout', () => {
  const five = ['a', 'b', 'c', 'd', 'e']
  it('batches by count, by share (rounded up), or all at once', () => {
    expect(batchesOf(five, { kind: 'all-at-once' })).toEqual([five])
    expect(batchesOf(five, { kind: 'rolling', batchSize: { count: 2 } })).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e']
    ])
    expect(batchesOf(five, { kind: 'rolling', batchSize: { percent: 25 } })).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e']
    ])
    expect(batchesOf(five, { kind: 'rolling', batchSize: { percent: 1 } })).toHaveLength(5)
  })

  it('works on at most `limit` items at once and settles every one', async () => {
    let running = 0
    let most = 0
    const settled = await settleLimited([1, 2, 3, 4, 5, 6, 7], 3, async n => {
      running++
      most = Math.max(most, running)
      await new Promise(resolve => setTimeout(resolve, 10))
      running--
      if (n === 4) throw new Error('four')
      return n * 2
    })
    expect(most).toBe(3)
    expect(settled.map(s => (s.status === 'fulfilled' ? s.value : 'x'))).toEqual([
      2,
      4,
      6,
      'x',
      10,
      12,
      14
    ])
  })
})

describe('health checks', () => {
  it('read status ranges', () => {
    const ranges = parseStatusRanges('200-399')
    if (typeof ranges === 'string') throw new Error(ranges)
    expect(inRanges(200, ranges)).toBe(true)
    expect(inRanges(399, ranges)).toBe(true)
    expect(inRanges(404, ranges)).toBe(false)
    expect(parseStatusRanges('399-200')).toEqual(expect.stringContaining('expected HTTP status'))
  })

  it('put each host in the URL, fetched by the server when it names the server', () => {
    expect(urlFor('http://{host}:8080/up', 'web1.example.com')).toBe(
      'http://web1.example.com:8080/up'
    )
    expect(urlFor('http://{host}/up', '::1')).toBe('http://[::1]/up')
    expect(fetchedByServer('http://127.0.0.1:8080/up')).toBe(true)
    expect(fetchedByServer('http://localhost/up')).toBe(true)
    expect(fetchedByServer('http://web1.example.com/up')).toBe(false)
  })

  it('fetch a URL from the runner, reading the status (0 for no answer)', async () => {
    const server = createServer((_request, response) => {
      response.statusCode = 503
      response.end('down')
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as { port: number }
      expect(await fetchStatus(`http://127.0.0.1:${port}/`, 5)).toBe(503)
    } finally {
      server.close()
    }
    expect(await fetchStatus('http://127.0.0.1:1/', 5)).toBe(0)
  })

  it('wait longer between tries, at most 5 s', () => {
    expect([0, 1, 2, 3, 4, 5].map(backoff)).toEqual([500, 1000, 2000, 4000, 5000, 5000])
  })
})

describe('connection retries', () => {
  it('retry refused, reset and timed-out connections, never logins or host keys', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:22'), {
      code: 'ECONNREFUSED'
    })
    expect(
      transient(new DeployError('127.0.0.1:22: cannot connect (x).', { cause: refused }))
    ).toBe(true)
    expect(transient(new DeployError('127.0.0.1:22: cannot connect (read ECONNRESET).'))).toBe(true)
    expect(
      transient(new DeployError('127.0.0.1:22: no SSH handshake within 30 s (`ssh-timeout`).'))
    ).toBe(true)
    expect(transient(new DeployError('127.0.0.1:22: the server refused the key for deploy.'))).toBe(
      false
    )
    expect(transient(new DeployError('Host key for 127.0.0.1:22 changed: SHA256:…'))).toBe(false)
  })
})
