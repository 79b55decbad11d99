/**
 * `npm run lint` runs `shellcheck -s sh` on each .sh file on its own. This checks each program as
 * it is assembled (lib.sh followed by its parts, before comments are stripped for sending), where a name one part uses and another defines, or
 * a part that no longer parses after lib.sh, would show: no warning at all.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { PROGRAMS } from './harness.js'

const SHELLCHECK = '/usr/bin/shellcheck'

describe('shellcheck -s sh', () => {
  it.each(Object.values(PROGRAMS).map(p => [p.name, p] as const))(
    'has no warning about the %s program as it is sent',
    (_name, prog) => {
      if (!existsSync(SHELLCHECK)) {
        throw new Error(
          `${SHELLCHECK} is missing: the remote programs must pass it. apt-get install -y shellcheck`
        )
      }
      // Info-level SC2317 ("unreachable": lib.sh functions this program does not call) is expected.
      const result = spawnSync(SHELLCHECK, ['-s', 'sh', '--severity=warning', '-'], {
        input: prog.source,
        encoding: 'utf8'
      })
      if (result.error) throw result.error
      expect({ code: result.status, said: result.stdout + result.stderr }).toEqual({
        code: 0,
        said: ''
      })
    }
  )
})
