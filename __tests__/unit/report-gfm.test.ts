/**
 * Every kind of report read by a real CommonMark + GFM-tables renderer (markdown-it, with raw
 * HTML passed through as GitHub does before sanitising): the tables parse with the rows the
 * model has, the folded blocks open and close, no Markdown leaks as text, and no user string
 * (environment, host, release, command, test name, hook output) becomes a tag or a link.
 */
import { beforeEach, describe, expect, it } from '@jest/globals'
import MarkdownIt from 'markdown-it'
import { clearSecrets, maskDeep, registerSecrets } from '../../src/mask.js'
import type { RunReport } from '../../src/report/model.js'
import { renderReport } from '../../src/report/render.js'
import { KINDS, NOW, TEST_FAILED } from './report-fixtures.js'

const gfm = new MarkdownIt({ html: true, linkify: true })

interface ParsedTable {
  readonly columns: number
  readonly rows: number
  /** Cells in each source line of the table, split on the pipes GFM splits on. */
  readonly sourceCells: readonly number[]
}

interface Parsed {
  readonly html: string
  readonly tables: readonly ParsedTable[]
  readonly details: number
  readonly openDetails: number
  readonly headings: readonly string[]
}

function parse(markdown: string): Parsed {
  const tokens = gfm.parse(markdown, {})
  const lines = markdown.split('\n')
  const tables: ParsedTable[] = []
  const headings: string[] = []
  let details = 0
  let closed = 0
  let openDetails = 0
  for (const [i, token] of tokens.entries()) {
    if (token.type === 'heading_open') headings.push(`${token.tag} ${tokens[i + 1]?.content ?? ''}`)
    if (token.type === 'html_block') {
      details += (token.content.match(/<details[ >]/g) ?? []).length
      openDetails += (token.content.match(/<details open>/g) ?? []).length
      closed += (token.content.match(/<\/details>/g) ?? []).length
    }
    if (token.type !== 'table_open') continue
    let columns = 0
    let rows = 0
    for (const inner of tokens.slice(i + 1)) {
      if (inner.type === 'table_close') break
      if (inner.type === 'th_open') columns++
      if (inner.type === 'tr_open') rows++
    }
    const [start = 0, end = 0] = token.map ?? []
    const sourceCells = lines.slice(start, end).map(line => line.split('|').length - 2)
    tables.push({ columns, rows: rows - 1, sourceCells })
  }
  expect(closed).toBe(details)
  return { html: gfm.render(markdown), tables, details, openDetails, headings }
}

/** [columns, body rows] of each table, top to bottom; the count of <details> blocks. */
const EXPECTED: Record<keyof typeof KINDS, { tables: [number, number][]; details: number }> = {
  deployed: {
    tables: [
      [5, 3],
      [4, 7],
      [4, 2],
      [2, 4]
    ],
    details: 2
  },
  promoted: {
    tables: [
      [3, 2],
      [4, 3],
      [3, 2]
    ],
    details: 2
  },
  staged: {
    tables: [
      [5, 3],
      [4, 7],
      [2, 2]
    ],
    details: 1
  },
  'staged without a pull request': {
    tables: [
      [5, 3],
      [4, 7],
      [2, 2]
    ],
    details: 1
  },
  'rolled back': {
    tables: [
      [3, 2],
      [4, 3],
      [3, 2],
      [2, 4]
    ],
    details: 2
  },
  'build failed': { tables: [[4, 1]], details: 2 },
  'test failed (JUnit)': { tables: [[4, 2]], details: 2 },
  'test failed without output': { tables: [[4, 2]], details: 1 },
  'after-activate failed, hosts switched back': {
    tables: [
      [5, 3],
      [4, 7],
      [4, 3]
    ],
    details: 2
  },
  'host key refused': { tables: [[4, 3]], details: 2 },
  denied: { tables: [], details: 0 },
  'dry run': {
    tables: [
      [4, 3],
      [4, 6]
    ],
    details: 1
  },
  tested: { tables: [[4, 2]], details: 1 },
  skipped: { tables: [], details: 0 }
}

/** The only elements a report may produce; anything else came from user text. */
const ALLOWED_TAGS = new Set([
  'h3',
  'p',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'code',
  'pre',
  'a',
  'ul',
  'li',
  'details',
  'summary',
  'sub',
  'strong',
  'em'
])

/** What the renderer produced outside code blocks, as a reader sees it (tags removed). */
function visibleText(html: string): string {
  return html.replace(/<pre>[\s\S]*?<\/pre>/g, '').replace(/<[^>]+>/g, '')
}

/** `fixed`: the report's own text only, where a visible `**` means its own Markdown leaked. */
function expectSafe(html: string, fixed = true): void {
  const tags = [...html.matchAll(/<\/?([a-zA-Z][\w-]*)([^>]*)>/g)]
  for (const [whole, name = '', attributes = ''] of tags) {
    expect(ALLOWED_TAGS.has(name.toLowerCase()) ? name : whole).toBe(name)
    // Only a link's href, the open flag of a folded block and a code block's language.
    expect(attributes.replace(/ (href="[^"]*"|open|class="language-text")/g, '').trim()).toBe('')
  }
  for (const [, href = ''] of html.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^https?:\/\//)
  const text = visibleText(html)
  // A double-escaped entity would show the reader "&#96;"; a stray ** or | means Markdown leaked.
  expect(text).not.toMatch(/&amp;#\d+;/)
  if (fixed) expect(text).not.toContain('**')
  expect(text.split('\n').filter(line => line.trimStart().startsWith('|'))).toEqual([])
}

describe('each report, rendered as GitHub renders Markdown', () => {
  it.each(Object.keys(KINDS) as (keyof typeof KINDS)[])('%s: parses as it is meant to', name => {
    const markdown = renderReport(KINDS[name], { now: NOW })
    const parsed = parse(markdown)

    expect(parsed.tables.map(t => [t.columns, t.rows])).toEqual(EXPECTED[name].tables)
    for (const table of parsed.tables) {
      // Every source row has as many cells as the header: GFM would pad or drop them silently.
      expect(new Set(table.sourceCells)).toEqual(new Set([table.columns]))
    }
    expect(parsed.details).toBe(EXPECTED[name].details)
    // One heading: the headline, first.
    expect(parsed.headings).toHaveLength(1)
    expect(parsed.html.replace(/^<!--.*-->\n/, '')).toMatch(/^<h3>/)
    expectSafe(parsed.html)
  })

  it('folds the failure output open and everything else closed', () => {
    expect(parse(renderReport(KINDS['build failed'], { now: NOW })).openDetails).toBe(1)
    expect(parse(renderReport(KINDS.deployed, { now: NOW })).openDetails).toBe(0)
  })

  it('shows hook output and test names as text, never as markup', () => {
    const { html } = parse(renderReport(TEST_FAILED, { now: NOW }))

    expect(html).toContain('&lt;/details&gt;&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('<code>cart › adds &lt;b&gt;bold&lt;/b&gt; items | twice</code>')
    expect(html).toContain('<code>auth › pings @\u200bocto-org/admins about #\u200b12</code>')
    expect(html).toContain('Error: [link](javascript:alert(1))')
  })
})

describe('a report made of hostile strings', () => {
  const evil = (what: string): string =>
    `${what} </code></details><img src=x onerror=alert(1)> | **bold** [x](javascript:alert(1)) \`tick\` <!-- @team #1`
  const HOSTILE: RunReport = {
    ...KINDS['after-activate failed, hosts switched back'],
    environment: evil('env'),
    reason: evil('reason'),
    release: evil('release'),
    previousRelease: evil('previous'),
    approvalCommand: evil('approve'),
    rollbackCommand: evil('rollback'),
    environmentUrl: 'javascript:alert(1)',
    runUrl: 'https://github.com/o/r/actions/runs/1) [x](javascript:alert(1)',
    stages: [
      { name: evil('stage'), status: 'failure', durationMs: 5, detail: evil('detail') },
      { name: 'skipped', status: 'skipped', durationMs: 0, detail: evil('skipped') }
    ],
    tests: {
      total: 2,
      passed: 0,
      failed: 2,
      skipped: 0,
      failures: [{ name: evil('test'), message: evil('message') }]
    },
    hosts: [
      {
        host: evil('host'),
        release: evil('host release'),
        previousRelease: undefined,
        status: evil('status'),
        batch: 2
      },
      { host: 'b', release: 'r', previousRelease: 'p', filesSent: 1, bytesSent: 1, filesReused: 1 }
    ],
    dora: { insufficient: evil('dora') },
    error: `${evil('error')}\n${evil('output')}\n\`\`\`\n</details>`
  }

  it.each([
    ['failed', HOSTILE],
    ['deployed', { ...HOSTILE, status: 'deployed', next: 'rollback' }],
    ['staged', { ...HOSTILE, status: 'staged', next: 'deploy' }],
    ['denied', { ...HOSTILE, status: 'denied' }],
    ['skipped', { ...HOSTILE, status: 'skipped' }]
  ] as [string, RunReport][])('%s: no tag, link or Markdown from user text', (_status, report) => {
    const markdown = renderReport(report, { now: NOW })
    const parsed = parse(markdown)

    expectSafe(parsed.html, false)
    expect(parsed.html).not.toMatch(/<(img|script)\b/i)
    // The user's **bold** and [x](…) are shown as typed, not as markup.
    expect(parsed.html).not.toContain('<strong>bold')
    expect(visibleText(parsed.html)).toContain('**bold** [x](javascript:alert(1))')
    for (const table of parsed.tables)
      expect(new Set(table.sourceCells)).toEqual(new Set([table.columns]))
    // Only the marker is a comment; a user's "<!--" cannot hide the rest of the report.
    expect(parsed.html.match(/<!--/g)).toHaveLength(1)
  })
})

describe('masking', () => {
  const SECRET = 'hunter2-very-secret-token'
  beforeEach(() => {
    clearSecrets()
  })

  it('a report built from a masked model shows *** and the secret in no form', () => {
    registerSecrets([SECRET])
    const leaky: RunReport = {
      ...TEST_FAILED,
      reason: `token ${SECRET}`,
      environment: `env-${SECRET}`,
      stages: [{ name: 'test', status: 'failure', durationMs: 5, detail: `uploads-${SECRET}` }],
      tests: {
        total: 1,
        passed: 0,
        failed: 1,
        skipped: 0,
        failures: [{ name: SECRET, message: `"${SECRET}"` }]
      },
      error: `cannot link uploads-${SECRET}\n${JSON.stringify({ token: SECRET })}`
    }
    // What main.ts does before rendering: escaping could split a secret, so it masks first.
    const markdown = renderReport(maskDeep(leaky), { now: NOW })
    const { html } = parse(markdown)

    for (const text of [markdown, html, visibleText(html)]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain('hunter2')
    }
    expect(visibleText(html)).toContain('uploads-***')
    expect(html).toContain('{&quot;token&quot;:&quot;***&quot;}')
  })
})
