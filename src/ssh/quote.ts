/**
 * The one way a value reaches a remote shell: POSIX single-quoted. A remote program's values
 * travel as its positional parameters, each passed through `quote` (src/deploy/program.ts).
 */
export function quote(value: string): string {
  if (value.includes('\0')) throw new Error('A NUL character cannot be passed to a remote shell.')
  if (/^[A-Za-z0-9_./=:@%+-]+$/.test(value)) return value
  return `'${value.replace(/'/g, `'\\''`)}'`
}

function hasDotDot(p: string): boolean {
  return p.split('/').some(segment => segment === '..')
}

/** Returns a problem with a `remote-path`, or undefined when it is acceptable. */
export function checkRemotePath(remotePath: string): string | undefined {
  if (remotePath === '')
    return 'required when `hosts` are given: the directory that holds the releases.'
  if (/[\0\r\n]/.test(remotePath)) return 'must be one line without control characters.'
  if (hasDotDot(remotePath)) return `"${remotePath}" must not contain ".." segments.`
  if (/^\/+$/.test(remotePath) || remotePath === '.' || remotePath === '~') {
    return `"${remotePath}" would deploy into the root of a file system or home directory; name a directory of its own.`
  }
  return undefined
}

/** Returns a problem with a path that must stay inside a release, or undefined. */
export function checkRelativeRemotePath(p: string): string | undefined {
  if (p === '' || p === '.') return 'must name a path inside the release.'
  if (/[\0\r\n]/.test(p)) return 'must be one line without control characters.'
  if (p.startsWith('/')) return 'must be relative to the release directory.'
  if (hasDotDot(p)) return 'must not contain ".." segments.'
  return undefined
}
