/** The PR comment and job summary: what a reader sees, escaped, and always under GitHub's limit. */
import { describe, expect, it } from '@jest/globals'
import type { DoraMetrics, RunReport } from '../../src/report/model.js'
import {
  escapeText,
  formatSpan,
  MAX_REPORT_CHARS,
  renderReport,
  stickyMarker
} from '../../src/report/render.js'
import { type StageRecord } from '../../src/stage-log.js'
import { formatBytes } from '../../src/format.js'

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b'
const RELEASE = '20240630120000-3f786850e387'
const PREVIOUS = '20240629094500-89e6c98d9288'

const SHIP_STAGES: readonly StageRecord[] = [
  { name: 'build', status: 'success', durationMs: 12_300, detail: 'npm run build' },
  { name: 'test', status: 'success', durationMs: 45_600, detail: '118 passed, 2 skipped' },
  { name: 'package', status: 'success', durationMs: 850, detail: '300 files, 58.2 MiB' },
  { name: 'connect', status: 'success', durationMs: 1_400, detail: '2 hosts' },
  { name: 'stage', status: 'success', durationMs: 3_200, detail: '12 files sent' }
]

const DORA: DoraMetrics = {
  windowDays: 20,
  deployments: 6,
  deploymentsPerWeek: 2.0913,
  leadTimeMs: 6_000_000,
  leadTimeSamples: 6,
  changeFailureRate: 0.375,
  failedChanges: 3,
  finishedChanges: 8,
  timeToRestoreMs: 7_200_000,
  restoreSamples: 3
}

const STAGED: RunReport = {
  status: 'staged',
  decision: 'stage',
  reason: 'delivery mode: staged, waiting for approval',
  environment: 'production',
  sha: SHA,
  runUrl: 'https://github.com/octo-org/octo-app/actions/runs/9876543210',
  repository: 'octo-org/octo-app',
  stages: SHIP_STAGES,
  tests: { total: 120, passed: 118, failed: 0, skipped: 2, failures: [] },
  transfer: { filesSent: 12, bytesSent: 1_234_567, filesReused: 288 },
  hosts: [
    { host: 'web-1.example.com', release: RELEASE, previousRelease: PREVIOUS },
    { host: 'web-2.example.com:2222', release: RELEASE, previousRelease: undefined }
  ],
  release: RELEASE,
  previousRelease: PREVIOUS,
  environmentUrl: 'https://app.example.com',
  next: 'deploy',
  approvalCommand: '/deploy',
  rollbackCommand: '/rollback',
  dora: { insufficient: '1 finished deployment in the last 90 days; the figures need at least 2.' },
  error: undefined
}

const DEPLOYED: RunReport = {
  ...STAGED,
  status: 'deployed',
  decision: 'deploy',
  reason: 'approved by alice with /deploy',
  stages: [
    ...SHIP_STAGES,
    { name: 'activate', status: 'success', durationMs: 420, detail: 'current -> ' + RELEASE },
    { name: 'verify', status: 'success', durationMs: 2_100, detail: 'HTTP 200 from /health' }
  ],
  next: 'rollback',
  dora: DORA
}

const FAILED: RunReport = {
  ...STAGED,
  status: 'failed',
  decision: 'deploy',
  reason: undefined,
  stages: [
    { name: 'build', status: 'success', durationMs: 12_300, detail: 'npm run build' },
    { name: 'test', status: 'failure', durationMs: 61_000, detail: 'exit code 1\nmore lines' },
    { name: 'package', status: 'skipped', durationMs: 0, detail: 'tests failed' }
  ],
  tests: {
    total: 120,
    passed: 115,
    failed: 3,
    skipped: 2,
    failures: [
      { name: 'cart › adds <b>bold</b> items | twice', message: 'expected *3* got _2_' },
      { name: 'auth › pings @octo-org/admins about #12', message: '' },
      { name: 'api › returns `json`', message: 'Error: [link](javascript:alert(1))\nat x.ts:1' }
    ]
  },
  transfer: undefined,
  hosts: [],
  release: undefined,
  previousRelease: undefined,
  environmentUrl: undefined,
  next: undefined,
  dora: undefined,
  error:
    'Test failed (exit code 1):\n```\n</details><script>alert(1)</script>\nFAIL src/cart.test.ts'
}

const ROLLED_BACK: RunReport = {
  ...DEPLOYED,
  status: 'rolled-back',
  decision: 'rollback',
  reason: '/rollback by bob',
  stages: [
    { name: 'connect', status: 'success', durationMs: 1_200, detail: '2 hosts' },
    { name: 'activate', status: 'success', durationMs: 380, detail: 'current -> ' + PREVIOUS }
  ],
  tests: undefined,
  transfer: undefined,
  hosts: [
    { host: 'web-1.example.com', release: PREVIOUS, previousRelease: RELEASE },
    { host: 'web-2.example.com:2222', release: PREVIOUS, previousRelease: RELEASE }
  ],
  release: PREVIOUS,
  previousRelease: RELEASE,
  next: undefined
}

describe('renderReport', () => {
  it.each([
    ['staged', STAGED],
    ['deployed', DEPLOYED],
    ['failed', FAILED],
    ['rolled-back', ROLLED_BACK]
  ])('renders a %s report', (_name, report) => {
    expect(renderReport(report)).toMatchSnapshot()
  })

  it('starts the comment with the environment marker and leaves it out of the job summary', () => {
    const comment = renderReport(STAGED)
    const summary = renderReport(STAGED, { marker: false })

    expect(comment.split('\n')[0]).toBe('<!-- gated-deploy:production -->')
    expect(summary).not.toContain('<!--')
    expect(comment).toBe(`<!-- gated-deploy:production -->\n${summary}`)
    expect(stickyMarker('eu/prod --> x')).toBe('<!-- gated-deploy:eu%2Fprod%20--%3E%20x -->')
  })

  it('puts the result and decision on the first line, and the next step with the configured command', () => {
    const staged = renderReport({ ...STAGED, approvalCommand: '/ship-it' })
    const deployed = renderReport({ ...DEPLOYED, rollbackCommand: '/undo' })

    expect(staged.split('\n')[1]).toBe(
      '### 📦 Staged, awaiting approval, on <code>production</code> · decision: <b>stage</b>'
    )
    expect(staged).toContain(
      `**Next:** to put release <code>${RELEASE}</code> live, comment <code>/ship-it</code> on the pull request.`
    )
    expect(deployed.split('\n')[1]).toBe(
      '### 🚀 Deployed to <code>production</code> · decision: <b>deploy</b>'
    )
    expect(deployed).toContain(
      `to go back to release <code>${PREVIOUS}</code>, comment <code>/undo</code>`
    )
    expect(renderReport(FAILED)).not.toContain('**Next:**')
  })

  it('shows tests, transfer, hosts, environment and the run log', () => {
    const text = renderReport(STAGED)

    expect(text).toContain('**Tests:** ✅ 118 passed, 2 skipped of 120')
    expect(text).toContain('**Transfer:** 12 files sent (1.2 MiB), 288 files reused')
    expect(text).toContain(`| <code>web-2.example.com:2222</code> | <code>${RELEASE}</code> | — |`)
    expect(text).toContain('**Environment:** [https://app.example.com](https://app.example.com/)')
    expect(text).toContain(
      '[View the run log](https://github.com/octo-org/octo-app/actions/runs/9876543210)'
    )
    expect(text).toContain(
      `[<code>3f786850e387</code>](https://github.com/octo-org/octo-app/commit/${SHA})`
    )
  })

  it('folds the DORA figures in a details block', () => {
    const text = renderReport(DEPLOYED)
    const details = text.slice(text.indexOf('<details>'), text.indexOf('</details>') + 10)

    expect(details).toContain(
      '<summary>📊 Delivery metrics (DORA) for <code>production</code></summary>'
    )
    expect(details).toContain('| Deployment frequency | 2.1 a week (6 deployments in 20 days) |')
    expect(details).toContain('| Lead time for changes | 1 h 40 min (median of 6) |')
    expect(details).toContain('| Change failure rate | 38% (3 of 8 changes) |')
    expect(details).toContain('| Time to restore | 2 h (median of 3) |')
    expect(renderReport(STAGED)).toContain('Not enough history yet: 1 finished deployment')
  })

  it('escapes test names, messages and the error so they cannot break the Markdown or HTML', () => {
    const text = renderReport(FAILED)

    expect(text).not.toContain('<b>bold</b>')
    // Raw HTML appears only inside the fenced block, where it is shown as text.
    expect(text.replace(/````text\n[\s\S]*?\n````\n/, '')).not.toMatch(/<script>|<\/details>/)
    expect(text).not.toContain('](javascript:')
    expect(text).toContain('&#60;b&#62;bold&#60;/b&#62; items &#124; twice')
    expect(text).toContain('expected &#42;3&#42; got &#95;2&#95;')
    // No mention of the team and no cross-reference to issue 12.
    expect(text).toContain('@&#8203;octo-org/admins about &#35;&#8203;12')
    // The error's own ``` cannot close the block: the fence is longer.
    expect(text).toContain(
      '````text\nTest failed (exit code 1):\n```\n</details><script>alert(1)</script>'
    )
    expect(text.split('\n').filter(line => line === '````')).toHaveLength(1)
  })

  it('never links a URL that is not http(s)', () => {
    const text = renderReport({ ...STAGED, environmentUrl: 'javascript:alert(1)', runUrl: 'x' })

    expect(text).not.toContain('javascript')
    expect(text).not.toContain('**Environment:**')
    expect(text).not.toContain('View the run log')
  })

  it('cuts long parts with a note and stays under 65,536 characters', () => {
    const stars = '*'.repeat(400)
    const huge: RunReport = {
      ...FAILED,
      tests: {
        total: 5000,
        passed: 0,
        failed: 5000,
        skipped: 0,
        failures: Array.from({ length: 20 }, (_, i) => ({ name: `${i} ${stars}`, message: stars }))
      },
      hosts: Array.from({ length: 2000 }, (_, i) => ({
        host: `${i}${'|'.repeat(300)}`,
        release: stars,
        previousRelease: stars
      })),
      error: `${'x'.repeat(1_000_000)}\nlast line of the failure`
    }
    const text = renderReport(huge)

    expect(text.length).toBeLessThan(MAX_REPORT_CHARS)
    expect(text).toContain("shortened to stay under GitHub's 65,536-character limit")
    expect(text).toContain('…and 4997 more failing tests; see the run log.')
    expect(text).toContain('…and 1990 more hosts.')
    expect(text).toMatch(/The first 99\d{4} characters were cut/)
    expect(text).toContain('last line of the failure\n```')
  })

  it('falls back to the headline when even the shortened report would not fit', () => {
    const stages: StageRecord[] = Array.from({ length: 3000 }, (_, i) => ({
      name: `hook ${i}`,
      status: 'success',
      durationMs: 10,
      detail: 'ok'
    }))
    const text = renderReport({ ...DEPLOYED, stages })

    expect(text.length).toBeLessThan(MAX_REPORT_CHARS)
    expect(text.split('\n')[1]).toContain('🚀 Deployed to')
    expect(text).toContain("The full report did not fit GitHub's 65,536-character limit")
    expect(text).toContain('comment <code>/rollback</code>')
    expect(text).not.toContain('| hook 0 |')
  })
})

describe('formatting helpers', () => {
  it('formats bytes and spans the way the report shows them', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual([
      '512 B',
      '1.5 KiB',
      '5.0 GiB'
    ])
    expect([
      formatSpan(0),
      formatSpan(45_000),
      formatSpan(6_000_000),
      formatSpan(183_600_000)
    ]).toEqual(['0 s', '45 s', '1 h 40 min', '2 d 3 h'])
  })

  it('escapes every character that starts markup and folds lines', () => {
    expect(escapeText('a\n<b> | `c` *d* _e_ [f](g) ~h~ \\ $x$ & "q"')).toBe(
      'a &#60;b&#62; &#124; &#96;c&#96; &#42;d&#42; &#95;e&#95; &#91;f&#93;(g) &#126;h&#126; &#92; &#36;x&#36; &#38; &#34;q&#34;'
    )
  })
})
