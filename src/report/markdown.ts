/**
 * The pieces the report is written with, each safe whatever text it is given: user text (names,
 * messages, hosts, commands, hook output) can start neither Markdown nor HTML, a link goes only
 * to an http(s) URL, and a fenced block cannot be closed by its content.
 */
import { shorten } from '../format.js'

/** Characters that could start markup, as numeric entities; whitespace kept as it is. */
function escapeInline(value: string): string {
  return value
    .replace(/[&<>"'`*_[\]|~\\#$]/g, c => `&#${c.charCodeAt(0)};`)
    .replace(/@(?=\w)/g, '@&#8203;')
    .replace(/&#35;(?=\d)/g, '&#35;&#8203;')
}

function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim()
}

/**
 * One line of user text, safe in Markdown, HTML and table cells: characters that could start
 * markup become numeric entities, and a zero-width space after `@` and `#` keeps GitHub from
 * turning the text into mentions (notifications) or issue cross-references.
 */
export function escapeText(value: string): string {
  return escapeInline(oneLine(value))
}

/** User text as inline code. */
export function code(value: string, max = 200): string {
  return `<code>${escapeText(shorten(value, max))}</code>`
}

/**
 * One line of the action's own prose that may quote user text in backticks ("`after-activate`
 * failed"): each backtick span becomes inline code, everything else is escaped, so the reader
 * sees code, not literal backticks or entities.
 */
export function prose(value: string, max: number): string {
  const parts = shorten(oneLine(value), max).split('`')
  return parts
    .map((part, i) => {
      if (i % 2 === 0) return escapeInline(part)
      // An unmatched backtick stays a backtick.
      return i === parts.length - 1
        ? escapeInline(`\`${part}`)
        : `<code>${escapeInline(part)}</code>`
    })
    .join('')
}

/** An http(s) URL safe as a Markdown link destination, or undefined. */
export function safeUrl(value: string | undefined): string | undefined {
  if (!value) return undefined
  try {
    const url = new URL(value)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
    return url.href.replace(/[()|<> ]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  } catch {
    return undefined
  }
}

/** `label` (already safe Markdown) linked to `url`, or the label alone when the URL is not http(s). */
export function link(label: string, url: string | undefined): string {
  const href = safeUrl(url)
  return href === undefined ? label : `[${label}](${href})`
}

/** A fenced block no line of `content` can close. */
export function fenced(content: string): string {
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map(run => run.length))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  return `${fence}text\n${content}\n${fence}`
}

/** A GFM table; cells must already be safe (no raw `|`, no line breaks). */
export function table(heads: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(heads), line(heads.map(() => '---')), ...rows.map(line)].join('\n')
}

/** A folded block; `open` shows it unfolded (it can still be folded by the reader). */
export function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}>\n<summary>${summary}</summary>\n\n${body}\n\n</details>`
}
