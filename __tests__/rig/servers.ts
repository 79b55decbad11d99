/**
 * One real sshd and one GitHub stand-in for a test file: started before its tests, checked after
 * each (no request outside GitHub's OpenAPI description, state reset), stopped at the end.
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals'
import { startGitHubStandIn, type GitHubStandIn } from './github-standin.js'
import { startSshd, stopAllSshd, type Sshd } from './sshd.js'

export interface Servers {
  readonly sshd: Sshd
  readonly github: GitHubStandIn
}

export function useServers(repository: string): Servers {
  let started: Servers | undefined
  beforeAll(async () => {
    const [sshd, github] = await Promise.all([startSshd(), startGitHubStandIn({ repository })])
    started = { sshd, github }
  })
  afterEach(() => {
    started?.github.assertNoViolations()
    started?.github.reset()
  })
  afterAll(async () => {
    await Promise.all([stopAllSshd(), started?.github.close()])
  })
  const get = (): Servers => {
    if (!started)
      throw new Error('useServers: the servers start in beforeAll; use them inside a test')
    return started
  }
  return {
    get sshd() {
      return get().sshd
    },
    get github() {
      return get().github
    }
  }
}
