/**
 * What holds for every remote program, under dash and busybox sh: it runs under the shell being
 * tested, its output is framed (a greeting full of markers before it and a logout message after
 * it change nothing), and a remote path it cannot use stops it naming the path, never falling
 * back to the home directory, where a deployment of its own must stay untouched.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { EXIT, MARK, program, type Program } from '../../src/deploy/program.js'
import { stageHeader } from '../../src/deploy/stage/stage.js'
import {
  FAREWELL,
  GREETING,
  historyLine,
  holdLock,
  layout,
  PROGRAMS,
  put,
  releaseName,
  Sandbox,
  SHELLS,
  snapshot,
  storeRelease
} from './harness.js'

const ID = releaseName(1)
const LINE = historyLine('event')
const EMPTY_TAR = spawnSync('tar', ['-c', '-f', '-', '-T', '/dev/null']).stdout

interface Case {
  readonly name?: string
  readonly prog: Program
  readonly args: (remote: string) => string[]
  readonly stdin?: string | Buffer
  /** Makes `remote` ready for a successful run. */
  readonly ready: (remote: string) => void
  /** The exact output of that run, when it is fixed. */
  readonly output?: string
}

const CASES: readonly Case[] = [
  {
    prog: PROGRAMS.lock,
    args: r => [r, '{"actor":"me"}', 'take'],
    ready: () => undefined
  },
  {
    name: 'lock with a release to stage',
    prog: PROGRAMS.lock,
    args: r => [r, '{"actor":"me"}', 'take', ID],
    stdin: Buffer.concat([stageHeader(undefined, []), EMPTY_TAR]),
    ready: () => undefined
  },
  {
    prog: PROGRAMS.repair,
    args: r => [r, ID],
    stdin: EMPTY_TAR,
    ready: r => mkdirSync(path.join(r, 'releases', `${ID}.partial`), { recursive: true }),
    output: `${MARK.GD_HASHES}\0`
  },
  {
    prog: PROGRAMS.activate,
    args: r => [r, ID, 'a'.repeat(40), '', '', '', LINE, LINE, ''],
    ready: r => {
      layout(r)
      storeRelease(r, 1)
    },
    output: `${MARK.GD_REPLACED} \n`
  },
  {
    prog: PROGRAMS.finish,
    args: r => [r, '', '', ''],
    ready: r => {
      layout(r)
      holdLock(r)
    },
    output: ''
  },
  {
    prog: PROGRAMS.health,
    args: r => [r, ID, 'command', 'true', '5'],
    ready: r => {
      layout(r)
      storeRelease(r, 1)
    },
    output: `${MARK.GD_HEALTH} 0\n`
  },
  {
    prog: PROGRAMS.abandon,
    args: r => [r, ID, 'remove', LINE],
    ready: r => {
      layout(r)
      holdLock(r)
    },
    output: ''
  }
]
const table = CASES.map(c => [c.name ?? c.prog.name, c] as const)

describe.each(SHELLS)('every program under $name', shell => {
  let box: Sandbox
  beforeEach(() => {
    box = new Sandbox(shell)
  })
  afterEach(() => box.remove())

  it('runs under the shell being tested, whatever `sh` the system has', async () => {
    const probe = program('probe', 'readlink "/proc/$$/exe"\ndone_ok')
    const run = await box.run(probe, [])
    expect(run.output.toString('utf8')).toBe(`${realpathSync(shell.command[0])}\n`)
  })

  it.each(table)(
    '%s: frames its output, ignoring a greeting and a logout message',
    async (_name, c) => {
      c.ready(box.remote)
      const run = await box.run(
        c.prog,
        c.args(box.remote),
        c.stdin === undefined ? {} : { stdin: c.stdin }
      )
      expect(run.error).toBe('no error output')
      expect(run.code).toBe(0)
      if (c.output !== undefined) expect(run.output.toString('utf8')).toBe(c.output)
      expect(run.stdout.toString('utf8')).toBe(
        `${GREETING}\n${MARK.GD_BEGIN}\n${run.output.toString('utf8')}\n${MARK.GD_END}\n${FAREWELL}`
      )
      expect(run.output.toString('utf8')).not.toContain('Welcome')
      expect(run.output.toString('utf8')).not.toContain('logout')
    }
  )

  // A deployment in the home directory, which a program falling back to HOME would change.
  const decoy = (): void => {
    const id = storeRelease(box.home, 9)
    symlinkSync(`releases/${id}`, path.join(box.home, 'current'))
    mkdirSync(path.join(box.home, 'shared'))
    holdLock(box.home)
    put(path.join(box.home, 'releases', `${ID}.partial`, 'a'), 'a')
  }

  // The old `cd P || { mkdir -p P && cd P; }` went on in HOME when mkdir failed.
  it.each(table)(
    '%s: stops naming a remote path below a regular file, changing nothing anywhere',
    async (_name, c) => {
      decoy()
      put(path.join(box.root, 'srv'), 'a regular file\n')
      const before = snapshot(box.root)
      const run = await box.run(c.prog, c.args(box.remote), { stdin: c.stdin ?? '' })
      expect(run.code).toBe(EXIT.EXIT_FAILED)
      expect(run.error).toContain(`remote-path ${box.remote}`)
      expect(snapshot(box.root)).toEqual(before)
    }
  )

  it.each(table)(
    '%s: stops naming the missing home directory of a relative path',
    async (_name, c) => {
      const home = path.join(box.root, 'gone')
      const before = snapshot(box.root)
      const run = await box.run(c.prog, c.args('./app'), { stdin: c.stdin ?? '', home })
      expect(run.code).toBe(EXIT.EXIT_FAILED)
      expect(run.error).toContain(`home directory (${home}) does not exist`)
      expect(snapshot(box.root)).toEqual(before)
    }
  )
})
