/** The `build` and `test` stages: a user script each, failing the run with its exit code and tail. */
import type { Settings } from '../inputs.js'
import { mask } from '../mask.js'
import { StageFailure, type StageLog } from '../stage-log.js'
import { runScript } from './script.js'

export async function runUserScript(
  log: StageLog,
  name: 'build' | 'test',
  settings: Pick<Settings, 'build' | 'test' | 'workingDirectory'>
): Promise<void> {
  const script = settings[name]
  if (script.trim() === '') {
    log.skip(name, `no \`${name}\` script given`)
    return
  }
  await log.run(name, async () => {
    const result = await runScript({
      script,
      cwd: settings.workingDirectory,
      output: process.stdout,
      // The tail ends up in the PR comment and the job summary, which the runner does not mask.
      maskTail: mask
    })
    if (result.exitCode !== 0) {
      throw new StageFailure(
        name,
        `${name} failed with exit code ${result.exitCode}. Last lines of its output:\n${result.tail}`,
        result.tail
      )
    }
    return { value: undefined, detail: '' }
  })
}
