/**
 * `npx tsx scripts/report-png.ts [kind] [out.png]`: the README's picture of the PR comment.
 * Renders one fixed report (default `deployed`; the kinds are those of
 * __tests__/unit/report-fixtures.ts) with the action's own renderer, turns the Markdown into HTML
 * with markdown-it (CommonMark + GFM tables, raw HTML kept, as GitHub renders a comment), styles
 * it like a GitHub comment, and screenshots it with headless Chromium into docs/report.png.
 *
 * Needs Chromium (`apt-get install -y chromium`; `CHROMIUM=/path` to use another binary) and,
 * for the emoji, `fonts-noto-color-emoji`. Nothing is fetched: the page is a local file.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import MarkdownIt from 'markdown-it'
import { KINDS, NOW } from '../__tests__/unit/report-fixtures.js'
import { renderReport } from '../src/report/render.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** CSS pixels: about the width of a comment on a pull request's page. */
const WIDTH = 880
const SCALE = 2

const CSS = `
  body { margin: 0; padding: 16px; background: #fff; color: #1f2328;
    font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", "Liberation Sans", Arial, sans-serif,
      "Noto Color Emoji"; }
  .comment { border: 1px solid #d1d9e0; border-radius: 6px; }
  .head { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px;
    border-radius: 6px 6px 0 0; color: #59636e; display: flex; align-items: center; gap: 8px; }
  .head b { color: #1f2328; }
  .avatar { width: 20px; height: 20px; border-radius: 4px; background: #2da44e; color: #fff;
    font-size: 12px; display: inline-flex; align-items: center; justify-content: center; }
  .label { border: 1px solid #d1d9e0; border-radius: 2em; padding: 0 7px; font-size: 12px; }
  .body { padding: 16px; }
  .body > :first-child { margin-top: 0; }
  .body > :last-child { margin-bottom: 0; }
  h3 { font-size: 1.25em; font-weight: 600; line-height: 1.25; margin: 0 0 8px; }
  p, ul, table, pre, details { margin: 0 0 16px; }
  ul { padding-left: 2em; }
  a { color: #0969da; text-decoration: none; }
  code { font: 85% ui-monospace, SFMono-Regular, "DejaVu Sans Mono", "Liberation Mono", monospace;
    background: rgba(129, 139, 151, 0.15); padding: 0.2em 0.4em; border-radius: 6px; }
  pre { background: #f6f8fa; padding: 16px; border-radius: 6px; overflow: auto; }
  pre code { background: none; padding: 0; font-size: 85%; }
  table { border-collapse: collapse; display: block; width: max-content; max-width: 100%; }
  th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
  th { font-weight: 600; }
  tr:nth-child(2n) { background: #f6f8fa; }
  details summary { cursor: pointer; }
  sub { color: #59636e; font-size: 12px; vertical-align: baseline; }
`

function chromium(): string {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  const found = candidates.find(c => c !== undefined && c !== '' && existsSync(c))
  if (found === undefined) {
    throw new Error(
      'Chromium is not installed: run `apt-get install -y chromium fonts-noto-color-emoji`, or set CHROMIUM to its path.'
    )
  }
  return found
}

function page(markdown: string): string {
  const html = new MarkdownIt({ html: true, linkify: true }).render(markdown)
  // The page measures itself so that the screenshot can be cut to its height.
  const measure = `addEventListener('load', () => document.fonts.ready.then(() => {
    const bottom = document.querySelector('.comment').getBoundingClientRect().bottom
    document.body.setAttribute('data-height', String(Math.ceil(bottom) + 16))
  }))`
  return `<!doctype html><html><head><meta charset="utf-8"><style>${CSS}</style>
<script>${measure}</script></head><body><div class="comment">
<div class="head"><span class="avatar">▶</span><b>github-actions</b><span class="label">bot</span> commented</div>
<div class="body">${html}</div></div></body></html>`
}

function main(): void {
  const [kind = 'deployed', out = path.join(ROOT, 'docs', 'report.png')] = process.argv.slice(2)
  if (!(kind in KINDS)) {
    throw new Error(`Unknown report kind "${kind}"; one of: ${Object.keys(KINDS).join(', ')}.`)
  }
  const report = KINDS[kind as keyof typeof KINDS]
  const browser = chromium()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'report-png-'))
  try {
    const file = path.join(dir, 'report.html')
    writeFileSync(file, page(renderReport(report, { now: NOW })))
    const common = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      '--no-first-run',
      `--user-data-dir=${path.join(dir, 'profile')}`
    ]
    const dom = execFileSync(
      browser,
      [
        ...common,
        `--window-size=${WIDTH},600`,
        '--virtual-time-budget=5000',
        '--dump-dom',
        `file://${file}`
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore']
      }
    )
    const height = Number(/data-height="(\d+)"/.exec(dom)?.[1])
    if (!Number.isInteger(height) || height <= 0) {
      throw new Error('Chromium did not report the page height: is it a working headless build?')
    }
    mkdirSync(path.dirname(out), { recursive: true })
    execFileSync(
      browser,
      [
        ...common,
        `--force-device-scale-factor=${SCALE}`,
        `--window-size=${WIDTH},${height}`,
        `--screenshot=${path.resolve(out)}`,
        `file://${file}`
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] }
    )
    console.log(
      `${path.relative(ROOT, out)}: ${kind}, ${WIDTH}×${height} CSS px at ${SCALE}×, ${statSync(out).size} bytes`
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main()
