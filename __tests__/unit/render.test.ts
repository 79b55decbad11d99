/** The PR comment and job summary: the marker, escaping, links, and always under GitHub's limit. */
import { describe, expect, it } from '@jest/globals'
import type { RunReport } from '../../src/report/model.js'
import { escapeText, prose } from '../../src/report/markdown.js'
import {
  formatSpan,
  MAX_REPORT_CHARS,
  renderReport,
  stickyMarker
} from '../../src/report/render.js'
import { type StageRecord } from '../../src/stage-log.js'
import { formatBytes } from '../../src/format.js'
import { DEPLOYED, NOW, STAGED, TEST_FAILED } from './report-fixtures.js'

describe('renderReport', () => {
  it('starts the comment with the environment marker and leaves it out of the job summary', () => {
    const comment = renderReport(STAGED, { now: NOW })
    const summary = renderReport(STAGED, { marker: false, now: NOW })

    expect(comment.split('\n')[0]).toBe('<!-- gated-deploy:production -->')
    expect(summary).not.toContain('<!--')
    expect(comment).toBe(`<!-- gated-deploy:production -->\n${summary}`)
    expect(stickyMarker('eu/prod --> x')).toBe('<!-- gated-deploy:eu%2Fprod%20--%3E%20x -->')
  })

  it('uses the configured commands in the next step', () => {
    const staged = renderReport({ ...STAGED, approvalCommand: '/ship-it' }, { now: NOW })
    const deployed = renderReport({ ...DEPLOYED, rollbackCommand: '/undo' }, { now: NOW })

    expect(staged).toContain('**Next:** comment <code>/ship-it</code> on the pull request')
    expect(deployed).toContain('**Undo:** comment <code>/undo</code> on the pull request')
    expect(renderReport(TEST_FAILED, { now: NOW })).not.toMatch(/\*\*(Next|Undo):\*\*/)
  })

  it('stamps the time it was written, now by default', () => {
    const before = new Date()
    const text = renderReport(STAGED)
    const stamp = /Updated (\d{4}-\d\d-\d\d \d\d:\d\d) UTC/.exec(text)?.[1] ?? ''

    expect(Math.abs(Date.parse(`${stamp.replace(' ', 'T')}Z`) - before.getTime())).toBeLessThan(
      61_000
    )
  })

  it('folds the DORA figures in a details block', () => {
    const text = renderReport(DEPLOYED, { now: NOW })
    const start = text.indexOf('<details>\n<summary>📊')
    const details = text.slice(start, text.indexOf('</details>', start) + 10)

    expect(details).toContain(
      '<summary>📊 Delivery metrics (DORA) for <code>production</code></summary>'
    )
    expect(details).toContain('| Deployment frequency | 2.1 a week (6 deployments in 20 days) |')
    expect(details).toContain('| Lead time for changes | 1 h 40 min (median of 6) |')
    expect(details).toContain('| Change failure rate | 38% (3 of 8 changes) |')
    expect(details).toContain('| Time to restore | 2 h (median of 3) |')
    expect(
      renderReport({ ...DEPLOYED, dora: { insufficient: '1 finished deployment' } }, { now: NOW })
    ).toContain('Not enough history yet: 1 finished deployment')
  })

  it('escapes test names, messages and the error so they cannot break the Markdown or HTML', () => {
    const text = renderReport(TEST_FAILED, { now: NOW })
    // Raw HTML appears only inside the fenced block, where it is shown as text.
    const outside = text.replace(/````text\n[\s\S]*?\n````\n/, '')

    expect(outside).not.toContain('<b>bold</b> items')
    expect(outside).not.toMatch(/<script>|<\/details><s/)
    expect(text).not.toContain('](javascript:')
    expect(text).toContain('&#60;b&#62;bold&#60;/b&#62; items &#124; twice')
    expect(text).toContain('expected &#42;3&#42; got &#95;2&#95;')
    // No mention of the team and no cross-reference to issue 12.
    expect(text).toContain('@&#8203;octo-org/admins about &#35;&#8203;12')
    // The error's own ``` cannot close the block: the fence is longer.
    expect(text).toContain('````text\ntest failed with exit code 1. Last lines of its output:\n')
    expect(text.split('\n').filter(line => line === '````')).toHaveLength(1)
  })

  it('never links a URL that is not http(s)', () => {
    const text = renderReport(
      { ...DEPLOYED, environmentUrl: 'javascript:alert(1)', runUrl: 'x' },
      { now: NOW }
    )

    expect(text).not.toContain('javascript')
    expect(text).not.toContain('🔗')
    expect(text).not.toContain('Run log')
  })

  it('cuts long parts with a note and stays under 65,536 characters', () => {
    const stars = '*'.repeat(400)
    const huge: RunReport = {
      ...TEST_FAILED,
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
        previousRelease: stars,
        timings: { stage: 1 }
      })),
      error: `first line\n${'x'.repeat(1_000_000)}\nlast line of the failure`
    }
    const text = renderReport(huge, { now: NOW })

    expect(text.length).toBeLessThan(MAX_REPORT_CHARS)
    expect(text).toContain("shortened to stay under GitHub's 65,536-character limit")
    expect(text).toContain('…and 4997 more failing tests; see the run log.')
    expect(text).toContain('…and 1990 more hosts.')
    expect(text).toMatch(/The first 99\d{4} characters were cut/)
    expect(text).toContain('last line of the failure\n```')
  })

  it('falls back to the headline and the next step when even the shortened report would not fit', () => {
    const stages: StageRecord[] = Array.from({ length: 3000 }, (_, i) => ({
      name: `hook ${i}`,
      status: 'success',
      durationMs: 10,
      detail: 'ok'
    }))
    const text = renderReport({ ...DEPLOYED, stages }, { now: NOW })

    expect(text.length).toBeLessThan(MAX_REPORT_CHARS)
    expect(text.split('\n')[1]).toContain('🚀 Deployed')
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

  it('shows backtick spans in the action’s own messages as code, not as backticks', () => {
    expect(prose('`after-activate` failed; `current` <b>x</b> was put back', 200)).toBe(
      '<code>after-activate</code> failed; <code>current</code> &#60;b&#62;x&#60;/b&#62; was put back'
    )
    expect(prose('one ` unmatched', 200)).toBe('one &#96; unmatched')
  })
})
