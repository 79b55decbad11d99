/** Build and test: restore the cache, run the user's `build` and `test`, save the cache. */
import * as core from '@actions/core'
import { runUserScript } from '../build/build-test.js'
import { describeRestore, restoreCache, saveCache } from '../build/cache.js'
import type { Decision } from '../action-io.js'
import { failedWith, type RunResult } from '../result.js'
import { startResult, type Run } from './services.js'

export async function buildAndTest(
  run: Run,
  intent: { decision: Decision; reason: string }
): Promise<RunResult> {
  const { settings, log } = run
  const result: RunResult = {
    ...startResult(run),
    status: 'tested',
    decision: intent.decision,
    reason: intent.reason
  }
  try {
    const restored = settings.cache
      ? await restoreCache(settings.cache, settings.workingDirectory)
      : undefined
    if (restored) core.info(describeRestore(restored))
    await runUserScript(log, 'build', settings)
    await runUserScript(log, 'test', settings)
    if (settings.cache && restored) {
      core.info(await saveCache(settings.cache, settings.workingDirectory, restored))
    }
    return result
  } catch (error: unknown) {
    return failedWith(result, error)
  }
}
