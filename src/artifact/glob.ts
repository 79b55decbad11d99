/**
 * `exclude` patterns, as rsync and .gitignore users expect: a pattern without a slash matches a
 * name at any depth, one with a slash is anchored at the artifact root, `**` crosses directories,
 * a trailing slash matches directories only. Excluding a directory excludes all inside it.
 */
export interface ExcludeRule {
  readonly source: string
  readonly regex: RegExp
  readonly directoryOnly: boolean
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
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1)
      if (end < 0) out += '\\['
      else {
        out +=
          '[' +
          glob
            .slice(i + 1, end)
            .replace(/^!/, '^')
            .replace(/\\/g, '\\\\') +
          ']'
        i = end
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return out
}

export function compileExclude(pattern: string): ExcludeRule {
  const directoryOnly = pattern.endsWith('/')
  let body = pattern.replace(/\/+$/, '')
  const anchored = body.includes('/')
  body = body.replace(/^\/+/, '')
  const prefix = anchored ? '^' : '^(?:.*/)?'
  return { source: pattern, regex: new RegExp(prefix + segmentToRegex(body) + '$'), directoryOnly }
}

/** Whether `relativePath` (posix, no leading ./) is excluded by any rule. */
export function isExcluded(
  rules: readonly ExcludeRule[],
  relativePath: string,
  isDirectory: boolean
): boolean {
  return rules.some(rule => (!rule.directoryOnly || isDirectory) && rule.regex.test(relativePath))
}
