/**
 * health.sh under dash and busybox sh: runs the health-check command in the release directory
 * (its exit status and output reported), fetches a URL with curl or, without curl, with
 * wget (BusyBox's on the BusyBox shell), reporting the status code or 000, and refuses a release
 * that is not there.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { mkdirSync, symlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import path from 'node:path'
import { EXIT, MARK } from '../../src/deploy/program.js'
import {
  layout,
  PROGRAMS,
  releaseName,
  Sandbox,
  SHELLS,
  storeRelease,
  type Run
} from './harness.js'

let server: Server
let port = 0
beforeAll(async () => {
  server = createServer((request, response) => {
    response.statusCode = request.url === '/down' ? 503 : request.url === '/moved' ? 302 : 200
    if (request.url === '/moved') response.setHeader('location', '/elsewhere')
    response.end('body')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})
afterAll(() => {
  server.close()
})

const said = (run: Run): string | undefined =>
  new RegExp(`^${MARK.GD_HEALTH} (\\d+)$`, 'm').exec(run.output.toString('utf8'))?.[1]

describe.each(SHELLS)('health.sh under $name', shell => {
  let box: Sandbox
  let release: string
  beforeEach(() => {
    box = new Sandbox(shell)
    layout(box.remote)
    release = storeRelease(box.remote, 1)
  })
  afterEach(() => box.remove())

  const check = (
    what: 'command' | 'url',
    value: string,
    env: Record<string, string> = {}
  ): Promise<Run> => box.run(PROGRAMS.health, [box.remote, release, what, value, '5'], { env })

  it('runs the command in the release directory with RELEASE set: exit 0 is healthy', async () => {
    const run = await check('command', 'grep -q "release 1" index.html && echo "up: $RELEASE"')
    expect(run.code).toBe(0)
    expect(said(run)).toBe('0')
    expect(run.stderr).toContain(`up: ${release}`)
  })

  it('reports a failing command with its exit status and its output on stderr', async () => {
    const run = await check('command', 'echo "connecting"; echo "database unreachable"; exit 7')
    expect(run.code).toBe(0)
    expect(said(run)).toBe('7')
    expect(run.stderr).toContain('database unreachable')
  })

  it('fetches a URL with curl and prints the status code', async () => {
    expect(said(await check('url', `http://127.0.0.1:${port}/`))).toBe('200')
    expect(said(await check('url', `http://127.0.0.1:${port}/down`))).toBe('503')
    expect(said(await check('url', `http://127.0.0.1:${port}/moved`))).toBe('302')
    expect(said(await check('url', 'http://127.0.0.1:1/'))).toBe('000')
  })

  it('fetches a URL with wget when there is no curl', async () => {
    // A PATH of the shell and BusyBox's wget, sed, tail and timeout alone: no curl.
    const bin = path.join(box.root, 'bin-no-curl')
    mkdirSync(bin)
    for (const tool of ['wget', 'sed', 'tail', 'timeout'])
      symlinkSync('/usr/bin/busybox', path.join(bin, tool))
    const env = { PATH: `${box.path('')}${bin}` }
    expect(said(await check('url', `http://127.0.0.1:${port}/`, env))).toBe('200')
    expect(said(await check('url', `http://127.0.0.1:${port}/down`, env))).toBe('503')
    expect(said(await check('url', 'http://127.0.0.1:1/', env))).toBe('000')
  })

  it('refuses a release that is not staged', async () => {
    const run = await box.run(PROGRAMS.health, [box.remote, releaseName(2), 'command', 'true', '5'])
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`release ${releaseName(2)} is not staged here`)
  })
})
