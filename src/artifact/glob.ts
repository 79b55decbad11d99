/**
 * Path patterns. `exclude` follows .gitignore rules exactly, by the `ignore` package (which
 * follows `git check-ignore`): a pattern without a slash matches a name at any depth, one with
 * a leading or middle slash is anchored at the artifact root, a trailing slash matches
 * directories only, `**` crosses directories, `!pattern` re-includes (except inside an
 * excluded directory, as in git), `\` escapes, `#` starts a comment, case matters.
 *
 * Gitignore has no `{a,b}` alternatives: an unescaped brace group with a comma is refused as an
 * input error (write one pattern per line, or `\{` `\}` for literal braces), as is any pattern
 * git would silently never match (an unclosed `[`, a trailing `\`, a `./` or `..` segment).
 *
 * `test-report` globs are different (paths relative to the working directory, no negation or
 * depth-free names): `globToRegex` serves them.
 */
import ignore from 'ignore'

/** Splits the `exclude` input into patterns: one a line, comments and blank lines dropped. */
export function excludePatterns(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map(line => line.trimStart()) // YAML indentation; trailing spaces are gitignore's to judge
    .filter(line => line.trim() !== '' && !line.startsWith('#'))
}

/** Index just past the `]` closing the class that opens at `open`, or -1 when never closed. */
function classEnd(pattern: string, open: number): number {
  let i = open + 1
  if (pattern[i] === '!' || pattern[i] === '^') i++
  if (pattern[i] === ']') i++ // a `]` first in the class is literal
  for (; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++
    else if (pattern[i] === ']') return i + 1
  }
  return -1
}

/** What is wrong with one exclude pattern, or undefined when git would read it as meant. */
export function checkExcludePattern(pattern: string): string | undefined {
  const shown = `"${pattern}"`
  if ([...pattern].some(c => c < ' ' || c === '\x7f')) {
    return `${shown} contains a control character.`
  }
  const body = pattern.replace(/^!/, '').replace(/^\/+/, '').replace(/\/+$/, '')
  if (body === '') return `${shown} names no path.`
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') {
      if (i === pattern.length - 1) {
        return `${shown} ends with a backslash, so git never matches it; remove it, or write \\\\ for a literal backslash.`
      }
      i++
    } else if (c === '[') {
      const end = classEnd(pattern, i)
      if (end < 0) {
        return `${shown} opens a character class with [ that is never closed, so git never matches it; write \\[ for a literal [.`
      }
      i = end - 1
    } else if (c === '{') {
      const close = pattern.indexOf('}', i)
      if (close > 0 && pattern.slice(i, close).includes(',')) {
        return `${shown} uses {a,b} alternatives, which .gitignore patterns do not have; write one pattern per line (e.g. *.map and *.ts), or \\{ and \\} to match braces literally.`
      }
    }
  }
  if (body.split('/').some(segment => segment === '.' || segment === '..')) {
    return `${shown} has a "." or ".." segment, which never matches: patterns are relative to the artifact; start with / to anchor one at its root.`
  }
  try {
    ignore({ ignorecase: false }).add(pattern).ignores('probe')
  } catch (error: unknown) {
    return `${shown} cannot be read (${error instanceof Error ? error.message : String(error)}).`
  }
  return undefined
}

export interface Exclude {
  /** Whether `relativePath` (posix, relative to the artifact root, no ./) is excluded. */
  excludes(relativePath: string, isDirectory: boolean): boolean
}

/** Compiles checked gitignore patterns (see `checkExcludePattern`), in order. */
export function compileExclude(patterns: readonly string[]): Exclude {
  const rules = ignore({ ignorecase: false }).add([...patterns])
  return {
    excludes: (relativePath, isDirectory) =>
      rules.ignores(isDirectory ? `${relativePath}/` : relativePath)
  }
}

function segmentToRegex(glob: string): string {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? ''
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/'
      out += slash ? '(?:.*/)?' : '.*'
      i += slash ? 2 : 1
    } else if (c === '*') out += '[^/]*'
    else if (c === '?') out += '[^/]'
    else if (c === '[' && classEnd(glob, i) > 0) {
      const end = classEnd(glob, i) - 1
      const inner = glob
        .slice(i + 1, end)
        .replace(/^!/, '^')
        .replace(/[\\\]]/g, '\\$&')
      out += `[${inner}]`
      i = end
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return out
}

/**
 * An anchored regex for a glob over a whole relative path: `*` and `?` within a name, `[...]`
 * classes, `**` across directories. A malformed class matches literally.
 */
export function globToRegex(glob: string): RegExp {
  const source = '^' + segmentToRegex(glob.replace(/^\/+/, '')) + '$'
  try {
    return new RegExp(source)
  } catch {
    return new RegExp('^' + glob.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '$')
  }
}
