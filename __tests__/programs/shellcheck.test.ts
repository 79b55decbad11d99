/**
 * Every remote program passes `shellcheck -s sh`: each .sh file on its own with no finding at
 * all, and each program as it is sent (lib.sh + its parts) with no warning. `npm run lint` runs
 * ESLint only, so this is where the shell is linted.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROGRAMS } from './harness.js'

const SHELLCHECK = '/usr/bin/shellcheck'
const DEPLOY = fileURLToPath(new URL('../../src/deploy/', import.meta.url))

function shellFiles(): string[] {
  return readdirSync(DEPLOY, { recursive: true, encoding: 'utf8' })
    .filter(file => file.endsWith('.sh'))
    .sort()
}

function shellcheck(args: readonly string[], input?: string): { code: number; said: string } {
  if (!existsSync(SHELLCHECK)) {
    throw new Error(
      `${SHELLCHECK} is missing: the remote programs must pass it. apt-get install -y shellcheck`
    )
  }
  const result = spawnSync(SHELLCHECK, ['-s', 'sh', ...args], {
    input: input ?? '',
    encoding: 'utf8'
  })
  if (result.error) throw result.error
  return { code: result.status ?? -1, said: result.stdout + result.stderr }
}

describe('shellcheck -s sh', () => {
  it('finds every remote program file', () => {
    expect(shellFiles()).toEqual([
      'abandon/abandon.sh',
      'activate/activate.sh',
      'finish/finish.sh',
      'lib.sh',
      'lock/lock.sh',
      'stage/listing.sh',
      'stage/repair.sh',
      'stage/stage.sh'
    ])
  })

  it.each(shellFiles())('has nothing to say about %s', file => {
    expect(shellcheck([path.join(DEPLOY, file)])).toEqual({ code: 0, said: '' })
  })

  it.each(Object.values(PROGRAMS).map(p => [p.name, p] as const))(
    'has no warning about the %s program as it is sent',
    (_name, prog) => {
      // Info-level SC2317 ("unreachable": lib.sh functions this program does not call) is expected.
      expect(shellcheck(['--severity=warning', '-'], prog.text)).toEqual({ code: 0, said: '' })
    }
  )
})
