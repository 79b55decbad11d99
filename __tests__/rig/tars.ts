/**
 * The upload's tar stream as the tests make and read it: the real packer (transfer.ts) into a
 * buffer, and every tar a server may have unpacking it. GNU tar stops at the archive's end, so a
 * serving exec leaves its stdin open; BusyBox tar and bsdtar read to EOF, so those servers get a
 * stdin that ends with the archive (lock.sh).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { ScannedEntry } from '../../src/artifact/manifest.js'
import { packEntries } from '../../src/artifact/transfer.js'

export interface Tar {
  /** The command, to which the target directory is appended. */
  readonly command: readonly string[]
  /** Whether its stdin is left open after the archive (it must stop by itself). */
  readonly stdinOpen: boolean
}

export const TARS: Readonly<Record<'GNU tar' | 'BusyBox tar' | 'bsdtar', Tar>> = {
  'GNU tar': { command: ['tar', '-x', '-f', '-', '-B', '-p', '-C'], stdinOpen: true },
  'BusyBox tar': { command: ['/usr/bin/busybox', 'tar', '-x', '-f', '-', '-C'], stdinOpen: false },
  bsdtar: { command: ['/usr/bin/bsdtar', '-x', '-f', '-', '-C'], stdinOpen: false }
}

/** Throws, saying what to install, when BusyBox or bsdtar is missing. */
export function requireServerTars(): void {
  for (const tool of ['/usr/bin/busybox', '/usr/bin/bsdtar']) {
    if (!existsSync(tool))
      throw new Error(`${tool} is missing: apt-get install -y busybox libarchive-tools`)
  }
}

/** The tar the deploy would send of `entries` under `root`, made by the real packer. */
export async function tarOf(root: string, entries: readonly ScannedEntry[]): Promise<Buffer> {
  const packed = packEntries(root, entries)
  const chunks: Buffer[] = []
  packed.stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  await packed.done
  await new Promise<void>(resolve => {
    if (packed.stream.readableEnded) resolve()
    else packed.stream.on('end', () => resolve())
  })
  return Buffer.concat(chunks)
}

/**
 * Feeds `archive` to `tar` unpacking into `into`; with `stdinOpen` it never closes its stdin,
 * and rejects when the tar has not stopped at the archive's end within 20 s.
 */
export function unpack(
  tar: Tar,
  archive: Buffer,
  into: string
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [file = '', ...args] = tar.command
    const child = spawn(file, [...args, into], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    child.stdin.on('error', () => undefined)
    child.stdin.write(archive)
    if (!tar.stdinOpen) child.stdin.end()
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${file} did not stop at the archive's end: it waits for more stdin`))
    }, 20_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      child.stdin.destroy()
      resolve({ code, stderr })
    })
  })
}
