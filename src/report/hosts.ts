/**
 * The hosts in the report: the compact table under the headline (release, files sent and
 * reused, bytes, time; where each host stands after a failed rollout) and each host's timings.
 */
import { formatBytes, formatDuration, plural } from '../format.js'
import { code, escapeText, table } from './markdown.js'
import type { HostRelease, RunReport } from './model.js'

interface Moved {
  readonly files: number
  readonly bytes: number
  readonly reused: number
}

/** What one host was sent: its own figures, or the run's when it is the only host. */
function movedTo(host: HostRelease, report: RunReport): Moved | undefined {
  if (host.filesSent !== undefined || host.filesReused !== undefined) {
    return {
      files: host.filesSent ?? 0,
      bytes: host.bytesSent ?? 0,
      reused: host.filesReused ?? 0
    }
  }
  const t = report.transfer
  if (report.hosts.length === 1 && t !== undefined) {
    return { files: t.filesSent, bytes: t.bytesSent, reused: t.filesReused }
  }
  return undefined
}

function sentCell(moved: Moved | undefined): string {
  if (moved === undefined) return '—'
  const bytes = moved.bytes > 0 ? `, ${formatBytes(moved.bytes)}` : ''
  return `${plural(moved.files, 'file')}${bytes}`
}

function hostSeconds(host: HostRelease): number | undefined {
  const t = host.timings
  if (t === undefined) return undefined
  const all = [t.stage, t.activate, t.health].filter(s => s !== undefined)
  return all.length === 0 ? undefined : all.reduce((sum, s) => sum + s, 0)
}

/** The compact table of the hosts, the first `maxHosts` of them. */
export function hostsTable(report: RunReport, maxHosts: number): string | undefined {
  if (report.hosts.length === 0) return undefined
  const shown = report.hosts.slice(0, maxHosts)
  // Previous, status and batch only when they say something: a failed or rolling rollout.
  const withStatus = report.hosts.some(h => h.status !== undefined)
  const withBatch = report.hosts.some(h => (h.batch ?? 1) > 1)
  const moved = report.hosts.map(h => movedTo(h, report))
  const t = report.transfer
  // A promotion or rollback sends nothing: no transfer columns of zeros. After a failed
  // rollout, where each host stands is what counts; its timings stay in the folded details.
  const withTransfer =
    !withStatus &&
    (moved.some(m => m !== undefined && m.files + m.reused > 0) ||
      (t !== undefined && t.filesSent + t.filesReused > 0))
  const withTime = !withStatus && report.hosts.some(h => hostSeconds(h) !== undefined)
  const sent = report.status === 'dry-run' ? 'Would send' : 'Sent'
  const heads = [
    'Host',
    'Release',
    ...(withStatus ? ['Previous', 'Status'] : []),
    ...(withBatch ? ['Batch'] : []),
    ...(withTransfer ? [sent, 'Reused'] : []),
    ...(withTime ? ['Time'] : [])
  ]
  const rows = shown.map((h, i) => {
    const m = moved[i]
    const seconds = hostSeconds(h)
    return [
      code(h.host),
      code(h.release),
      ...(withStatus
        ? [
            h.previousRelease === undefined ? '—' : code(h.previousRelease),
            escapeText(h.status ?? '—')
          ]
        : []),
      ...(withBatch ? [h.batch === undefined ? '—' : String(h.batch)] : []),
      ...(withTransfer ? [sentCell(m), m === undefined ? '—' : plural(m.reused, 'file')] : []),
      ...(withTime ? [seconds === undefined ? '—' : formatDuration(seconds * 1000)] : [])
    ]
  })
  if (report.hosts.length > 1 && withTransfer && t !== undefined) {
    const blank = heads.length - 2 - (withTime ? 1 : 0) - 1
    rows.push([
      '**Total**',
      ...Array<string>(blank).fill(''),
      sentCell({ files: t.filesSent, bytes: t.bytesSent, reused: t.filesReused }),
      plural(t.filesReused, 'file'),
      ...(withTime ? [''] : [])
    ])
  }
  const more = report.hosts.length - shown.length
  const text = table(heads, rows)
  return more > 0 ? `${text}\n\n_…and ${plural(more, 'more host')}._` : text
}

const HOST_STAGES = [
  ['stage', 'Stage'],
  ['activate', 'Activate'],
  ['health', 'Health check']
] as const

/** Each host's time per stage, for the folded details. */
export function timingsTable(report: RunReport, maxHosts: number): string | undefined {
  const timed = report.hosts.filter(h => hostSeconds(h) !== undefined).slice(0, maxHosts)
  const columns = HOST_STAGES.filter(([key]) => timed.some(h => h.timings?.[key] !== undefined))
  if (columns.length === 0) return undefined
  const cell = (s: number | undefined): string => (s === undefined ? '—' : formatDuration(s * 1000))
  return table(
    ['Host', ...columns.map(([, title]) => title)],
    timed.map(h => [code(h.host), ...columns.map(([key]) => cell(h.timings?.[key]))])
  )
}
