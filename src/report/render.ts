/**
 * Renders a RunReport as GitHub Markdown: the sticky PR comment and the job summary carry the same
 * content, laid out to be read at a glance:
 *   1. one headline: what happened, which release to which hosts, how long;
 *   2. one line under it: the failure, the environment link, the next step;
 *   3. the failing tests, and a compact table of the hosts (release, files, bytes, time);
 *   4. folded: the stages, the tests, each host's timings, the failure's output, the metrics;
 *   5. a small footer: the commit, the run log, when the report was written.
 * User text is escaped (see markdown.ts). The result is always under GitHub's 65,536-character
 * comment limit: long parts are cut with a visible note, then the whole report is redrawn
 * tighter, and at worst reduced to its headline.
 */
import { formatDuration, plural, shorten } from '../format.js'
import type { StageRecord } from '../stage-log.js'
import { hostsTable, timingsTable } from './hosts.js'
import { code, details, escapeText, fenced, link, prose, safeUrl, table } from './markdown.js'
import type { DoraMetrics, DoraResult, RunReport, TestSummary } from './model.js'

/** GitHub refuses comment bodies longer than this. */
export const MAX_REPORT_CHARS = 65_536

export interface RenderOptions {
  /** Start with the hidden sticky-comment marker (default true; false for the job summary). */
  readonly marker?: boolean
  /** When the report is written, shown as "updated" (default: now). */
  readonly now?: Date
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

/** Hosts named in the headline; more are counted (the table below names them). */
const HEADLINE_HOSTS = 1

const STAGE_ICONS: Record<StageRecord['status'], string> = {
  success: '✅ success',
  failure: '❌ failure',
  skipped: '⏭️ skipped'
}

/** The hidden first line that identifies the sticky comment for one environment. */
export function stickyMarker(environment: string): string {
  return `<!-- gated-deploy:${encodeURIComponent(environment)} -->`
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

// ── The headline ────────────────────────────────────────────────────────────────────────────

/** " in 1 min 6 s": the stages' time, which is the run's (they run one after another). */
function took(report: RunReport, word: 'in' | 'after'): string {
  const ms = report.stages.reduce((sum, stage) => sum + stage.durationMs, 0)
  return ms > 0 ? ` ${word} ${formatDuration(ms)}` : ''
}

function onHosts(report: RunReport): string {
  const { hosts } = report
  if (hosts.length === 0) return ''
  if (hosts.length > HEADLINE_HOSTS) return ` on ${plural(hosts.length, 'host')}`
  return ` on ${hosts.map(h => code(h.host, 100)).join(', ')}`
}

function failedStage(report: RunReport): StageRecord | undefined {
  return report.stages.findLast(stage => stage.status === 'failure')
}

/** What became of the hosts of a failed activation, when any was switched. */
function hostsAfterFailure(report: RunReport): string {
  const count = (...statuses: string[]): number =>
    report.hosts.filter(h => h.status !== undefined && statuses.includes(h.status)).length
  const left = count('switch-back-failed', 'left-switched')
  const back = count('switched-back')
  const parts = [
    back > 0 ? `${plural(back, 'host')} switched back` : undefined,
    left > 0 ? `⚠️ ${plural(left, 'host')} left on the new release` : undefined
  ].filter(part => part !== undefined)
  return parts.length > 0 ? `; ${parts.join(', ')}` : ''
}

function failedHeadline(report: RunReport): string {
  const stage = failedStage(report)
  const tests = report.tests
  let what = 'Failed'
  if (stage?.name === 'build') what = 'Build failed'
  else if (stage?.name === 'test') {
    what =
      tests && tests.failed > 0 ? `Tests failed: ${tests.failed} of ${tests.total}` : 'Tests failed'
  } else if (stage !== undefined) {
    const release = report.release === undefined ? '' : ` of ${code(report.release)}`
    what = `Deploy${release} to ${code(report.environment, 100)} failed at ${escapeText(stage.name)}`
  }
  return `❌ ${what}${took(report, 'after')}${hostsAfterFailure(report)}`
}

function headline(report: RunReport, limits: Limits): string {
  const env = code(report.environment, 100)
  const release = report.release === undefined ? 'the build' : code(report.release)
  const reason = prose(report.reason ?? '', limits.messageChars)
  const text = ((): string => {
    switch (report.status) {
      case 'deployed': {
        const verb = report.decision === 'promote' ? 'Promoted' : 'Deployed'
        return `🚀 ${verb} ${release} to ${env}${onHosts(report)}${took(report, 'in')}`
      }
      case 'staged':
        return `📦 Staged ${release} for ${env}${onHosts(report)}${took(report, 'in')}, awaiting approval`
      case 'rolled-back':
        return `⏪ Rolled back ${env} to ${release}${onHosts(report)}${took(report, 'in')}`
      case 'dry-run':
        return `🧪 Dry run for ${env}${onHosts(report)}${took(report, 'in')}: nothing changed`
      case 'tested':
        return `✅ Tested ${code(report.sha.slice(0, 12) || 'the commit')}${took(report, 'in')}`
      case 'failed':
        return failedHeadline(report)
      case 'denied':
        return `🚫 Refused${reason ? `: ${reason}` : ''}`
      case 'skipped':
        return `⏭️ Skipped${reason ? `: ${reason}` : ''}`
    }
  })()
  return `### ${text}`
}

// ── The line under it: the failure, the environment, the next step ─────────────────────────

/**
 * The failure as the action wrote it, without an introduction to output that never came
 * ("… exit code 1. Last lines of its output:", "exit 1, its last output:" at the very end).
 * No regular expression over the text: a failure can be megabytes long.
 */
function fullFailure(error: string): string {
  const text = error.trimEnd()
  if (!/\boutput:$/i.test(text.slice(-8))) return text
  const lineStart = text.lastIndexOf('\n') + 1
  const line = text.slice(lineStart)
  const cut = Math.max(line.lastIndexOf('. '), line.lastIndexOf('; '), line.lastIndexOf(', '))
  const kept = `${text.slice(0, lineStart)}${line.slice(0, Math.max(cut, 0))}`.trimEnd()
  return kept === '' || /[.!?]$/.test(kept) ? kept : `${kept}.`
}

/** The first sentence of a failure (or of its first line): what the reader needs first. */
function firstSentence(error: string): string {
  const line = (fullFailure(error).split('\n', 1)[0] ?? '').slice(0, 2000)
  const sentence = /^.*?[.!?](?=\s|$)/.exec(line)?.[0] ?? line
  return sentence.replace(/[\s:]+$/, '')
}

function environmentLink(report: RunReport): string | undefined {
  // Only where the live site now holds this build.
  if (report.status !== 'deployed' && report.status !== 'rolled-back') return undefined
  const href = safeUrl(report.environmentUrl)
  if (href === undefined || report.environmentUrl === undefined) return undefined
  const label = escapeText(shorten(report.environmentUrl.replace(/^https?:\/\//, ''), 80))
  return `🔗 [${label}](${href})`
}

function nextStep(report: RunReport): string | undefined {
  const noPullRequest = report.pullRequest === 'none'
  if (report.next === 'deploy') {
    if (noPullRequest && report.release !== undefined) {
      return `**Next:** run the workflow with ${code(`promote: ${report.release}`)} to put it live`
    }
    return `**Next:** comment ${code(report.approvalCommand)} on the pull request to put it live`
  }
  if (report.next === 'rollback') {
    const to =
      report.previousRelease === undefined ? '' : ` to go back to ${code(report.previousRelease)}`
    if (noPullRequest) return `**Undo:** run the workflow with ${code('rollback: true')}${to}`
    return `**Undo:** comment ${code(report.rollbackCommand)} on the pull request${to}`
  }
  return undefined
}

function testCounts(tests: TestSummary): string {
  const icon = tests.failed > 0 ? '❌' : '✅'
  const counts = [
    tests.failed > 0 ? `${tests.failed} failed` : undefined,
    `${tests.passed} passed`,
    tests.skipped > 0 ? `${tests.skipped} skipped` : undefined
  ].filter(part => part !== undefined)
  return `${icon} ${counts.join(', ')} of ${tests.total}`
}

function leadLine(report: RunReport, limits: Limits): string | undefined {
  const parts: (string | undefined)[] = []
  if (report.status === 'failed' && report.error !== undefined) {
    parts.push(prose(firstSentence(report.error), limits.messageChars))
  }
  if (report.status === 'tested' || report.status === 'dry-run') {
    if (report.reason !== undefined) parts.push(prose(report.reason, limits.messageChars))
    if (report.tests !== undefined) parts.push(`tests ${testCounts(report.tests)}`)
  }
  parts.push(environmentLink(report), nextStep(report))
  const line = parts.filter(part => part !== undefined && part !== '').join(' · ')
  return line === '' ? undefined : line
}

// ── What is shown unfolded: failing tests, the hosts ────────────────────────────────────────

function failingTests(tests: TestSummary | undefined, limits: Limits): string | undefined {
  if (tests === undefined || tests.failed === 0) return undefined
  const shown = tests.failures.slice(0, limits.failures)
  if (shown.length === 0) return undefined
  const lines = shown.map(failure => {
    const message = failure.message.split('\n').find(line => line.trim() !== '') ?? ''
    const text = message ? `: ${escapeText(shorten(message, limits.messageChars))}` : ''
    return `- ${code(failure.name, limits.nameChars)}${text}`
  })
  const more = tests.failed - shown.length
  if (more > 0) lines.push(`- _…and ${plural(more, 'more failing test')}; see the run log._`)
  return lines.join('\n')
}

// ── Folded: stages, tests, timings, the failure's output, delivery metrics ─────────────────

function stagesTable(stages: readonly StageRecord[], limits: Limits): string {
  const withDetail = stages.some(stage => stage.detail.trim() !== '')
  const rows = stages.map(stage => {
    const duration =
      stage.status === 'skipped' || stage.durationMs < 1 ? '' : formatDuration(stage.durationMs)
    const detail = firstSentence(stage.detail)
    return [
      escapeText(stage.name),
      STAGE_ICONS[stage.status],
      duration,
      ...(withDetail ? [prose(detail, limits.detailChars)] : [])
    ]
  })
  const heads = ['Stage', 'Status', 'Duration', ...(withDetail ? ['Detail'] : [])]
  return table(heads, rows)
}

function stagesSection(report: RunReport, limits: Limits): string | undefined {
  if (report.stages.length === 0) return undefined
  // The tests and the reason of a test-only run or a dry run are in the line under the headline.
  const inLead = report.status === 'tested' || report.status === 'dry-run'
  const parts = [
    stagesTable(report.stages, limits),
    timingsTable(report, limits.hosts),
    report.tests === undefined || inLead ? undefined : `**Tests:** ${testCounts(report.tests)}`,
    // Why the run did what it did; a failed run's plan is not what happened.
    report.decision === undefined || report.status === 'failed' || inLead
      ? undefined
      : `**Decision:** ${report.decision}${report.reason ? ` (${prose(report.reason, limits.messageChars)})` : ''}`
  ].filter(part => part !== undefined)
  const summary = `⏱️ ${plural(report.stages.length, 'stage')}${took(report, 'in')}`
  return details(summary, parts.join('\n\n'))
}

/** The failure in full, as written (a fenced block shows it verbatim), when it says more. */
function errorSection(error: string | undefined, limits: Limits): string | undefined {
  if (error === undefined) return undefined
  const full = fullFailure(error)
  if (full === firstSentence(error) || full === '') return undefined
  const chars = [...full]
  const dropped = chars.length - limits.errorChars
  const tail = dropped > 0 ? chars.slice(dropped).join('') : full
  const note =
    dropped > 0 ? `_The first ${dropped} characters were cut; the run log has all._\n\n` : ''
  const lines = plural(tail.split('\n').length, 'line')
  return details(`📄 The error in full (${lines})`, `${note}${fenced(tail)}`, true)
}

function doraRows(dora: DoraMetrics): string {
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
  return table(
    ['Metric', 'Value'],
    [
      ['Deployment frequency', frequency],
      ['Lead time for changes', lead],
      ['Change failure rate', rate],
      ['Time to restore', restore]
    ]
  )
}

function doraSection(environment: string, dora: DoraResult): string {
  const body =
    'insufficient' in dora
      ? `Not enough history yet: ${escapeText(shorten(dora.insufficient, 300))}`
      : doraRows(dora)
  return details(`📊 Delivery metrics (DORA) for ${code(environment, 100)}`, body)
}

// ── The footer and the whole ────────────────────────────────────────────────────────────────

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

function footer(report: RunReport, now: Date): string {
  const parts = [
    `Commit ${link(code(report.sha.slice(0, 12) || 'unknown'), commitUrl(report))}`,
    safeUrl(report.runUrl) === undefined ? undefined : link('Run log', report.runUrl),
    `Updated ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`
  ].filter(part => part !== undefined)
  return `<sub>${parts.join(' · ')}</sub>`
}

const SHORTENED_NOTE =
  "_This report was shortened to stay under GitHub's 65,536-character limit; the run log has everything._"

function sections(report: RunReport, limits: Limits, now: Date): (string | undefined)[] {
  return [
    headline(report, limits),
    leadLine(report, limits),
    limits.shortened ? SHORTENED_NOTE : undefined,
    failingTests(report.tests, limits),
    errorSection(report.error, limits),
    hostsTable(report, limits.hosts),
    stagesSection(report, limits),
    report.dora === undefined ? undefined : doraSection(report.environment, report.dora),
    footer(report, now)
  ]
}

function minimal(report: RunReport, now: Date): (string | undefined)[] {
  const note =
    "_The full report did not fit GitHub's 65,536-character limit; the run log has everything._"
  return [headline(report, COMPACT), leadLine(report, COMPACT), note, footer(report, now)]
}

/** The headline and the line under it are one block: the line follows without a gap. */
function assemble(parts: (string | undefined)[], marker: string | undefined): string {
  const [head, lead, ...rest] = parts
  const top = lead === undefined ? head : `${head ?? ''}\n${lead}`
  const body = [top, ...rest].filter((part): part is string => part !== undefined && part !== '')
  return [...(marker === undefined ? [] : [marker]), body.join('\n\n')].join('\n') + '\n'
}

/** Markdown for the sticky PR comment (and, with `marker: false`, the job summary). */
export function renderReport(report: RunReport, options: RenderOptions = {}): string {
  const marker = options.marker === false ? undefined : stickyMarker(report.environment)
  const now = options.now ?? new Date()
  for (const limits of [FULL, COMPACT]) {
    const text = assemble(sections(report, limits, now), marker)
    if (text.length < MAX_REPORT_CHARS) return text
  }
  return assemble(minimal(report, now), marker)
}
