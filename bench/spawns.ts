/**
 * `npx tsx bench/spawns.ts <bundle>...`: what each bundle's deploy costs the server in processes.
 * One full and one 1% deploy of the 2,000-file tree per bundle, with `strace -f` on the sshd:
 * counts the forks and the programs exec'd (each costs 5–7 ms on a small VM) per deploy.
 */
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../__tests__/rig/sshd.js'
import { runBundle } from './bundle.js'
import * as fixtures from './fixtures.js'

/** Runs `act` with strace following sshd; returns the exec'd program names and the fork count. */
async function traced(
  sshd: Sshd,
  out: string,
  act: () => Promise<unknown>
): Promise<{ execs: string[]; forks: number }> {
  const strace = spawn(
    'strace',
    ['-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', out, '-p', String(sshd.pid)],
    { stdio: ['ignore', 'ignore', 'pipe'] }
  )
  await new Promise(resolve => setTimeout(resolve, 500)) // attached
  await act()
  await new Promise(resolve => setTimeout(resolve, 300))
  strace.kill('SIGINT')
  await new Promise(resolve => strace.once('close', resolve))
  const lines = readFileSync(out, 'utf8').split('\n')
  const execs = lines.flatMap(line => {
    const match = /execve\("([^"]+)"/.exec(line)
    return match && !line.includes('= -1') ? [path.basename(match[1] ?? '')] : []
  })
  const forks = lines.filter(line => /\b(clone3?|v?fork)\(/.test(line) && !/= -1/.test(line))
  return { execs, forks: forks.length }
}

function summary(execs: readonly string[]): string {
  const counts = new Map<string, number>()
  for (const name of execs) counts.set(name, (counts.get(name) ?? 0) + 1)
  return [...counts].map(([name, n]) => `${name}×${n}`).join(' ')
}

async function main(): Promise<void> {
  const bundles = process.argv.slice(2).map(b => path.resolve(b))
  if (bundles.length === 0) throw new Error('usage: npx tsx bench/spawns.ts <bundle>...')
  const root = mkdtempSync(path.join(os.tmpdir(), 'gd-spawns-'))
  chmodSync(root, 0o755)
  process.env.TMPDIR = root
  const v1 = path.join(root, 'ws-1')
  const v2 = path.join(root, 'ws-2')
  fixtures.makeSmallFiles(path.join(v1, 'dist'), 2000)
  fixtures.makeIncrement(path.join(v1, 'dist'), path.join(v2, 'dist'))
  try {
    const sshd = await startSshd()
    for (const bundle of bundles) {
      const dir = await makeTestDir()
      for (const [phase, ws] of [
        ['full', v1],
        ['1%', v2]
      ] as const) {
        const got = await traced(sshd, path.join(root, 'strace.txt'), () =>
          runBundle(bundle, sshd, ws, path.join(dir, 'site'))
        )
        console.log(
          `${bundle} ${phase}: ${got.forks} forks, ${got.execs.length} execs: ${summary(got.execs)}`
        )
      }
    }
  } finally {
    await stopAllSshd()
    rmSync(root, { recursive: true, force: true })
  }
}

try {
  await main()
} catch (error: unknown) {
  console.error(`spawns failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
