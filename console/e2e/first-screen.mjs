// Times the console's first screen in Debian's Chromium against a running server: from asking
// for /console/ (logged in) to the workbench's six figures and its charts drawn. Prints each run
// beside the log-in page's own load (a page with no data) as the baseline of the same run.
//   node console/e2e/first-screen.mjs http://127.0.0.1:8080 county yishui-2026 [runs]
import { chromium } from 'playwright-core'

const [url, login, password, runs = '5'] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: process.env.GK_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
})
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
const page = await context.newPage()
const ms = (t) => `${Math.round(performance.now() - t)} ms`

// Baseline: the log-in page (the same files, no data), with an empty cache, then warm.
for (const cache of ['cold', 'warm']) {
  const t = performance.now()
  await page.goto(`${url}/console/login`)
  await page.locator('input[data-test=login]').waitFor()
  console.log(`log-in page (${cache} cache): ${ms(t)}`)
}
await page.fill('input[data-test=login]', login)
await page.fill('input[data-test=password]', password)
await page.click('[data-test=submit]')
await page.locator('[data-test=who]').waitFor()

for (let i = 0; i < Number(runs); i++) {
  const t = performance.now()
  await page.goto(`${url}/console/`)
  await page.waitForFunction(() => {
    const figures = [...document.querySelectorAll('[data-test=card-figure]')]
    return figures.length === 6 && figures.every((f) => f.textContent.trim() !== '—') &&
      document.querySelectorAll('[data-test=chart-settled] canvas').length > 0
  })
  console.log(`workbench, figures and charts (${login}): ${ms(t)}`)
}
await browser.close()
