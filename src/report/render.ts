/**
 * Renders a RunReport as GitHub Markdown: the sticky PR comment and the job summary carry the same
 * content. Everything that comes from users (names, messages, hosts, commands) is escaped with
 * HTML entities, so it can neither start Markdown nor HTML; URLs must be http(s). The result is
 * always under GitHub's 65,536-character comment limit: long parts are cut with a visible note,
 * then the whole report is redrawn tighter, and at worst reduced to its headline.
 */
import type { RunStatus } from '../action-io.js'
import { shorten } from '../format.js'
import type { DoraMetrics, DoraResult, RunReport, TestSummary } from './model.js'
import { type StageRecord } from '../stage-log.js'
import { formatBytes, formatDuration, plural } from '../format.js'

/** GitHub refuses comment bodies longer than this. */
export const MAX_REPORT_CHARS = 65_536

export interface RenderOptions {
  /** Start with the hidden sticky-comment marker (default true; false for the job summary). */
  readonly marker?: boolean
}

interface Limits {
  readonly failures: number
  readonly hosts: number
  readonly errorChars: number
  readonly detailChars: number
  readonly nameChars: number
  readonly messageChars: number
  readonly shortened: boolean
}

const FULL: Limits = {
  failures: 10,
  hosts: 50,
  errorChars: 6000,
  detailChars: 200,
  nameChars: 200,
  messageChars: 300,
  shortened: false
}
const COMPACT: Limits = {
  failures: 3,
  hosts: 10,
  errorChars: 1500,
  detailChars: 80,
  nameChars: 100,
  messageChars: 120,
  shortened: true
}

const HEADLINES: Record<RunStatus, readonly [emoji: string, text: string]> = {
  tested: ['✅', 'Tested'],
  staged: ['📦', 'Staged, awaiting approval, on'],
  deployed: ['🚀', 'Deployed to'],
  'rolled-back': ['⏪', 'Rolled back on'],
  'dry-run': ['🧪', 'Dry run for'],
  failed: ['❌', 'Failed on'],
  denied: ['🚫', 'Denied on'],
  skipped: ['⏭️', 'Skipped on']
}

const STAGE_ICONS: Record<StageRecord['status'], string> = {
  success: '✅ success',
  failure: '❌ failure',
  skipped: '⏭️ skipped'
}

/** The hidden first line that identifies the sticky comment for one environment. */
export function stickyMarker(environment: string): string {
  return `<!-- gated-deploy:${encodeURIComponent(environment)} -->`
}

/**
 * One line of user text, safe in Markdown, HTML and table cells: characters that could start
 * markup become numeric entities, and a zero-width space after `@` and `#` keeps GitHub from
 * turning the text into mentions (notifications) or issue cross-references.
 */
export function escapeText(value: string): string {
  return value
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[&<>"'`*_[\]|~\\#$]/g, c => `&#${c.charCodeAt(0)};`)
    .replace(/@(?=\w)/g, '@&#8203;')
    .replace(/&#35;(?=\d)/g, '&#35;&#8203;')
}

function code(value: string, max = 200): string {
  return `<code>${escapeText(shorten(value, max))}</code>`
}

/** An http(s) URL safe as a Markdown link destination, or undefined. */
function safeUrl(value: string | undefined): string | undefined {
  if (!value) return undefined
  try {
    const url = new URL(value)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
    return url.href.replace(/[()|]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  } catch {
    return undefined
  }
}

function link(label: string, url: string | undefined): string {
  const href = safeUrl(url)
  return href === undefined ? label : `[${label}](${href})`
}

/** A span of time in its two largest units: "2 d 3 h", "3 h 20 min", "45 s". */
export function formatSpan(ms: number): string {
  const seconds = Math.round(ms / 1000)
  const parts: [number, string][] = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor((seconds % 86_400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'min'],
    [seconds % 60, 's']
  ]
  const first = parts.findIndex(([n]) => n > 0)
  if (first < 0) return '0 s'
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ')
}

function headline(report: RunReport): string {
  const [emoji, text] = HEADLINES[report.status]
  const where = report.status === 'tested' ? '' : ` ${code(report.environment, 100)}`
  const decision = report.decision === undefined ? '' : ` · decision: <b>${report.decision}</b>`
  return `### ${emoji} ${text}${where}${decision}`
}

function commitUrl(report: RunReport): string | undefined {
  if (!/^[\w.-]+\/[\w.-]+$/.test(report.repository) || !/^[0-9a-f]{7,40}$/i.test(report.sha)) {
    return undefined
  }
  try {
    return `${new URL(report.runUrl).origin}/${report.repository}/commit/${report.sha}`
  } catch {
    return undefined
  }
}

function commitLine(report: RunReport): string {
  const parts = [`Commit ${link(code(report.sha.slice(0, 12) || 'unknown'), commitUrl(report))}`]
  if (report.release !== undefined) parts.push(`release ${code(report.release)}`)
  if (report.previousRelease !== undefined) parts.push(`previous ${code(report.previousRelease)}`)
  return parts.join(' · ')
}

function stagesTable(stages: readonly StageRecord[], limits: Limits): string | undefined {
  if (stages.length === 0) return undefined
  const rows = stages.map(stage => {
    const duration = stage.status === 'skipped' ? '' : formatDuration(stage.durationMs)
    const detail = escapeText(shorten(stage.detail.split('\n')[0] ?? '', limits.detailChars))
    return `| ${escapeText(stage.name)} | ${STAGE_ICONS[stage.status]} | ${duration} | ${detail} |`
  })
  return ['| Stage | Status | Duration | Detail |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

function testsSection(tests: TestSummary, limits: Limits): string {
  const icon = tests.failed > 0 ? '❌' : '✅'
  const counts = [
    tests.failed > 0 ? `${tests.failed} failed` : undefined,
    `${tests.passed} passed`,
    tests.skipped > 0 ? `${tests.skipped} skipped` : undefined
  ]
    .filter(part => part !== undefined)
    .join(', ')
  const lines = [`**Tests:** ${icon} ${counts} of ${tests.total}`]
  const shown = tests.failures.slice(0, limits.failures)
  if (shown.length > 0) {
    lines.push('', 'Failing:')
    for (const failure of shown) {
      const message = failure.message.split('\n').find(line => line.trim() !== '') ?? ''
      const text = message ? `: ${escapeText(shorten(message, limits.messageChars))}` : ''
      lines.push(`- ${code(failure.name, limits.nameChars)}${text}`)
    }
  }
  const more = tests.failed - shown.length
  if (shown.length > 0 && more > 0) {
    lines.push(`- _…and ${plural(more, 'more failing test')}; see the run log._`)
  }
  return lines.join('\n')
}

function transferLine(report: RunReport): string | undefined {
  const t = report.transfer
  if (t === undefined) return undefined
  const sent = `${plural(t.filesSent, 'file')} sent (${formatBytes(t.bytesSent)})`
  return `**Transfer:** ${sent}, ${plural(t.filesReused, 'file')} reused from the previous release`
}

function hostsTable(report: RunReport, limits: Limits): string | undefined {
  if (report.hosts.length === 0) return undefined
  const shown = report.hosts.slice(0, limits.hosts)
  // Status and batch columns only when they say something: a failed or rolling rollout.
  const withStatus = report.hosts.some(h => h.status !== undefined)
  const withBatch = report.hosts.some(h => (h.batch ?? 1) > 1)
  const rows = shown.map(h => {
    const previous = h.previousRelease === undefined ? '—' : code(h.previousRelease)
    const extra = [
      ...(withStatus ? [escapeText(h.status ?? '—')] : []),
      ...(withBatch ? [h.batch === undefined ? '—' : String(h.batch)] : [])
    ]
    return `| ${[code(h.host), code(h.release), previous, ...extra].join(' | ')} |`
  })
  const heads = [
    'Host',
    'Release',
    'Previous',
    ...(withStatus ? ['Status'] : []),
    ...(withBatch ? ['Batch'] : [])
  ]
  const table = [
    `| ${heads.join(' | ')} |`,
    `| ${heads.map(() => '---').join(' | ')} |`,
    ...rows
  ].join('\n')
  const more = report.hosts.length - shown.length
  return more > 0 ? `${table}\n\n_…and ${plural(more, 'more host')}._` : table
}

function environmentLine(report: RunReport): string | undefined {
  const href = safeUrl(report.environmentUrl)
  if (href === undefined) return undefined
  return `**Environment:** [${escapeText(shorten(report.environmentUrl ?? '', 200))}](${href})`
}

function nextLine(report: RunReport): string | undefined {
  if (report.next === 'deploy') {
    const what = report.release === undefined ? 'this release' : `release ${code(report.release)}`
    return `**Next:** to put ${what} live, comment ${code(report.approvalCommand)} on the pull request.`
  }
  if (report.next === 'rollback') {
    const to =
      report.previousRelease === undefined
        ? 'roll back'
        : `go back to release ${code(report.previousRelease)}`
    return `**Next:** to ${to}, comment ${code(report.rollbackCommand)} on the pull request.`
  }
  return undefined
}

/** A fenced block no line of `content` can close. */
function fenced(content: string): string {
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map(run => run.length))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  return `${fence}text\n${content}\n${fence}`
}

function errorSection(error: string, limits: Limits): string {
  const chars = [...error.trimEnd()]
  const dropped = chars.length - limits.errorChars
  const tail = dropped > 0 ? chars.slice(dropped).join('') : chars.join('')
  const note =
    dropped > 0 ? `\n\n_The first ${dropped} characters were cut; the run log has all._` : ''
  return `**Error:**${note}\n\n${fenced(tail)}`
}

function doraRows(dora: DoraMetrics): string[] {
  const lead =
    dora.leadTimeMs === undefined
      ? 'not measured'
      : `${formatSpan(dora.leadTimeMs)} (median of ${dora.leadTimeSamples})`
  const restore =
    dora.timeToRestoreMs === undefined
      ? 'no failures to restore from'
      : `${formatSpan(dora.timeToRestoreMs)} (median of ${dora.restoreSamples})`
  const rate = `${Math.round(dora.changeFailureRate * 100)}% (${dora.failedChanges} of ${plural(dora.finishedChanges, 'change')})`
  const frequency = `${dora.deploymentsPerWeek.toFixed(1)} a week (${plural(dora.deployments, 'deployment')} in ${dora.windowDays} days)`
  return [
    '| Metric | Value |',
    '| --- | --- |',
    `| Deployment frequency | ${frequency} |`,
    `| Lead time for changes | ${lead} |`,
    `| Change failure rate | ${rate} |`,
    `| Time to restore | ${restore} |`
  ]
}

function doraSection(environment: string, dora: DoraResult): string {
  const summary = `<summary>📊 Delivery metrics (DORA) for ${code(environment, 100)}</summary>`
  const body =
    'insufficient' in dora
      ? `Not enough history yet: ${escapeText(shorten(dora.insufficient, 300))}`
      : doraRows(dora).join('\n')
  return `<details>\n${summary}\n\n${body}\n\n</details>`
}

function footer(report: RunReport): string {
  const href = safeUrl(report.runUrl)
  return href === undefined ? '' : `[View the run log](${href})`
}

const SHORTENED_NOTE =
  "_This report was shortened to stay under GitHub's 65,536-character limit; the run log has everything._"

function sections(report: RunReport, limits: Limits): (string | undefined)[] {
  return [
    headline(report),
    report.reason === undefined ? undefined : `Reason: ${escapeText(shorten(report.reason, 300))}`,
    limits.shortened ? SHORTENED_NOTE : undefined,
    commitLine(report),
    stagesTable(report.stages, limits),
    report.tests === undefined ? undefined : testsSection(report.tests, limits),
    transferLine(report),
    hostsTable(report, limits),
    environmentLine(report),
    nextLine(report),
    report.error === undefined ? undefined : errorSection(report.error, limits),
    report.dora === undefined ? undefined : doraSection(report.environment, report.dora),
    footer(report)
  ]
}

function minimal(report: RunReport): (string | undefined)[] {
  const note =
    "_The full report did not fit GitHub's 65,536-character limit; the run log has everything._"
  return [headline(report), note, commitLine(report), nextLine(report), footer(report)]
}

function assemble(parts: (string | undefined)[], marker: string | undefined): string {
  const body = parts.filter((part): part is string => part !== undefined && part !== '')
  return [...(marker === undefined ? [] : [marker]), body.join('\n\n')].join('\n') + '\n'
}

/** Markdown for the sticky PR comment (and, with `marker: false`, the job summary). */
export function renderReport(report: RunReport, options: RenderOptions = {}): string {
  const marker = options.marker === false ? undefined : stickyMarker(report.environment)
  for (const limits of [FULL, COMPACT]) {
    const text = assemble(sections(report, limits), marker)
    if (text.length < MAX_REPORT_CHARS) return text
  }
  return assemble(minimal(report), marker)
}
