// The console in a real Chromium (Debian's, through playwright-core), driven by the whole-system
// test tests/tests/console_e2e.rs, which starts the county server and the handhelds and runs
// one phase of this at a time:
//   node console/e2e/console.mjs assign    township staff log in, accept a dispute and assign it
//                                          to 司法所 with a due time; refusals checked on the way
//   node console/e2e/console.mjs resolve   the township verifies and resolves what was reported back,
//                                          hears it live, and reveals a resident's ID number
//   node console/e2e/console.mjs admin     the county administrator's 管理: the structure, an account's
//                                          password reset (then used), a handheld revoked, the audit
// Environment: GK_URL (the server), GK_LOGIN, GK_PASSWORD, GK_DISPUTE, GK_FOREIGN (another
// township's dispute), GK_DESCRIPTION (the dispute's text), GK_RESIDENT, GK_ID_NUMBER,
// GK_ID_MASKED and GK_BIRTH_YEAR (a resident of the grid), GK_GRID and GK_HOUSE (the grid and a
// house's door number), GK_MAP_GRID (the grid drawn on the map), GK_WORKER (the grid worker who reported), GK_SHOTS (screenshot folder, under target/).
// The admin phase instead: ADMIN_LOGIN, ADMIN_PASSWORD (the county administrator), ACCOUNT_NAME (a
// staff member with a console log-in, or ACCOUNT_LOGIN to give them one), NEW_PASSWORD (theirs
// from now on: 10+ characters of two kinds), DEVICE_ID (an active handheld to revoke).
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { chromium } from 'playwright-core'

const env = (k) => {
  const v = process.env[k]
  if (!v) throw new Error(`${k} is not set`)
  return v
}
const phase = process.argv[2]
const url = env('GK_URL')
const [login, password] = (phase === 'admin' ? ['ADMIN_LOGIN', 'ADMIN_PASSWORD'] : ['GK_LOGIN', 'GK_PASSWORD']).map(env)
const dispute = phase === 'admin' ? null : env('GK_DISPUTE')
const shots = process.env.GK_SHOTS
if (shots) mkdirSync(shots, { recursive: true })

const browser = await chromium.launch({
  executablePath: process.env.GK_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
})
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
const page = await context.newPage()
page.setDefaultTimeout(15_000)
// Script errors, console errors (a failed chunk, a refused request the page did not expect) and
// anything the Content-Security-Policy blocked fail the phase.
const errors = []
page.on('pageerror', (e) => errors.push(String(e)))
page.on('console', (m) => {
  // The browser logs each refused request it was asked to make; the checks below make some on purpose.
  // (422 only where the admin phase sends a bad roster on purpose.)
  const expected = phase === 'admin' ? /status of (400|401|404|422)/ : /status of (400|401|404)/
  if (m.type() === 'error' && !expected.test(m.text())) errors.push(m.text())
})
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP blocked ${e.blockedURI} (${e.violatedDirective})`))
})

async function shot(name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true })
}

async function logIn(pass) {
  // Element Plus hands an input's attributes to the <input> itself.
  await page.fill('input[data-test=login]', login)
  await page.fill('input[data-test=password]', pass)
  await page.click('[data-test=submit]')
}

/** Opens the action's dialog, fills it with `fill`, submits, and waits for the status shown. */
async function act(kind, status, fill) {
  await page.click(`[data-test=act-${kind}]`)
  const dialog = page.locator('.el-dialog:visible')
  await dialog.waitFor()
  if (fill) await fill(dialog)
  await dialog.locator('[data-test=action-submit]').click()
  await dialog.waitFor({ state: 'hidden' })
  await page.locator('[data-test=dispute-status]', { hasText: status }).waitFor()
}

try {
  await page.goto(`${url}/console/`)
  // No session: the log-in screen.
  await page.waitForURL(/\/console\/login/)
  if (phase === 'assign') {
    await shot('01-login')
    await logIn('not-the-password-1')
    const refused = page.locator('[data-test=login-error]')
    await refused.waitFor()
    assert.match(await refused.innerText(), /登录名或密码不正确/)
    assert.match(page.url(), /\/console\/login/, 'a wrong password opens nothing')
  }
  await logIn(password)
  await page.locator('[data-test=who]').waitFor()

  if (phase === 'assign') {
    // The workbench: the escalated dispute is waiting for this centre.
    const waiting = page.locator('[data-test=card-waiting] [data-test=card-figure]')
    await page.waitForFunction((el) => /^[1-9]/.test(el.textContent.trim()), await waiting.elementHandle())
    await page.locator('[data-test=chart-settled] canvas').first().waitFor()
    await page.waitForTimeout(500) // the charts' entry animation
    await shot('02-workbench')

    // The charts drill down: a click on the township's one bar (its one village with a
    // dispute this month) opens the village's figures, its name in the path above them; the
    // trend and coverage charts follow; the first crumb goes back up.
    const settled = page.locator('[data-test=chart-settled]')
    const box = await settled.boundingBox()
    // Mid-height of the plot (36 px legend above, 60 px axis labels below): a full bar.
    await page.mouse.click(box.x + box.width / 2, box.y + 36 + (box.height - 96) / 2)
    await page.waitForURL(/[?&]node=/)
    const crumbs = page.locator('[data-test=drill-crumb]')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=drill-crumb]').length === 2)
    assert.match(await crumbs.nth(1).innerText(), new RegExp(env('GK_VILLAGE_NAME')))
    await page.locator('[data-test=chart-trend] canvas').first().waitFor()
    await page.locator('[data-test=chart-coverage] canvas').first().waitFor()
    await page.waitForTimeout(500)
    await shot('16-workbench-village')
    await crumbs.first().locator('a').click()
    await page.waitForFunction(() => !location.search.includes('node='))
    await page.waitForFunction(() => document.querySelectorAll('[data-test=drill-crumb]').length === 1)

    // From the card to the queue, to the dispute.
    await page.click('[data-test=card-waiting]')
    await page.waitForURL(/\/console\/disputes\?list=waiting/)
    const row = page.locator('[data-test=queue] .el-table__row', { hasText: env('GK_DESCRIPTION') })
    await row.waitFor()
    await shot('03-disputes')
    await row.click()
    await page.waitForURL(new RegExp(`/console/disputes/${dispute}`))
    await page.locator('[data-test=act-accept]').waitFor()

    await act('accept', '已受理')
    await act('assign', '已分流指派', async (dialog) => {
      await dialog.locator('[data-test=to-level-township]').click()
      await dialog.locator('[data-test=to-node]').first().click()
      await page.locator('.el-select-dropdown__item:visible', { hasText: '司法所' }).click()
      await dialog.locator('textarea[data-test=note]').fill('请司法所组织调解，三日内反馈')
    })
    const timeline = await page.locator('[data-test=timeline]').innerText()
    assert.match(timeline, /分流指派/)
    assert.match(timeline, /交 司法所/)
    assert.match(timeline, /限 /, 'the due time is shown')
    assert.match(timeline, /东坡村综治专干（村（社区）综治专干）/, 'the village staff member who passed it up, by name and role')
    await shot('04-dispute')

    // A request that changes something without the session's CSRF token is refused, even with
    // the session cookie (a page of another site could make the browser send the cookie).
    const forged = await page.evaluate(async (id) => {
      const r = await fetch(`/v1/disputes/${id}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'verify' }),
      })
      return { status: r.status, body: await r.json() }
    }, dispute)
    assert.equal(forged.status, 400, JSON.stringify(forged))
    assert.equal(forged.body.code, 'bad_csrf_token')

    // Another township's dispute is not there for this centre.
    await page.goto(`${url}/console/disputes/${env('GK_FOREIGN')}`)
    const refusal = page.locator('[data-test=dispute-error]')
    await refusal.waitFor()
    assert.match(await refusal.innerText(), /没有找到，或不在您的辖区/)
    assert.equal(await page.locator('[data-test=actions]').count(), 0)
  } else if (phase === 'resolve') {
    // A second tab keeps the workbench open: what happens to the dispute arrives there live.
    const watcher = await context.newPage()
    await watcher.goto(`${url}/console/`)
    await watcher.locator('[data-test=live-state]', { hasText: '已连接' }).waitFor()
    await page.goto(`${url}/console/disputes/${dispute}`)
    await page.locator('[data-test=dispute-status]', { hasText: '已反馈待核查' }).waitFor()
    await act('verify', '已核查')
    await act('resolve', '已办结', async (dialog) => {
      await dialog.locator('textarea[data-test=note]').fill('经司法所调解，双方达成协议')
    })
    await shot('05-resolved')
    const heard = watcher.locator('[data-test=live] li', { hasText: '办结' })
    await heard.waitFor()
    assert.match(await watcher.locator('[data-test=live]').innerText(), /核查/)
    await watcher.close()

    // 人口: a resident's ID number is masked until the deliberate click, which the server audits.
    await page.click('[data-test=menu-residents]')
    await page.fill('input[data-test=resident-search]', env('GK_RESIDENT'))
    const row = page.locator('[data-test=residents] .el-table__row', { hasText: env('GK_RESIDENT') })
    await row.waitFor()
    assert.ok((await row.innerText()).includes(env('GK_ID_MASKED')), 'the list shows the masked ID number')
    assert.ok(!(await page.content()).includes(env('GK_ID_NUMBER')), 'no full ID number in the list')
    await row.click()
    const id = page.locator('[data-test=value-id_number]')
    await id.waitFor()
    assert.equal((await id.innerText()).trim(), env('GK_ID_MASKED'))
    assert.equal((await page.locator('[data-test=value-birth_date]').innerText()).trim(), env('GK_BIRTH_YEAR'), 'the birth year only')
    assert.ok(!(await page.content()).includes(env('GK_ID_NUMBER')), 'no full ID number before the click')
    assert.match(await page.locator('[data-test=categories]').innerText(), /户籍人口/, 'the categories shown')
    await page.locator('[data-test=history]', { hasText: env('GK_WORKER') }).waitFor() // who created it, by name
    await page.waitForTimeout(400) // the category tags' entry transition
    await shot('06-resident')
    await page.click('[data-test=reveal-id_number]')
    await page.locator('[data-test=value-id_number]', { hasText: env('GK_ID_NUMBER') }).waitFor()
    assert.equal(await page.locator('[data-test=reveal-phone]').count(), 1, 'the phone is still masked')

    // 房屋: the grid's houses; one opens with its history (created on the handheld).
    await page.click('[data-test=menu-houses]')
    await page.goto(`${url}/console/houses?grid=${env('GK_GRID')}`)
    const house = page.locator('[data-test=houses] .el-table__row', { hasText: env('GK_HOUSE') })
    await house.waitFor()
    assert.match(await house.innerText(), /砖混/, 'coded values in words')
    await house.click()
    const houseHistory = page.locator('[data-test=house] [data-test=history]', { hasText: '建档' })
    await houseHistory.waitFor()
    assert.match(await houseHistory.innerText(), /结构\s+砖混/, 'fields and coded values in words')
    await shot('15-houses')
    await page.keyboard.press('Escape')

    // 网格员: the worker who found the dispute, with it settled in the township.
    await page.click('[data-test=menu-workers]')
    const worker = page.locator('[data-test=workers] .el-table__row', { hasText: env('GK_WORKER') })
    await worker.waitFor()
    await shot('07-workers')

    // 地图: the grid with a boundary is drawn (the other has none, and the map says so); a click
    // on it shows its figures: the dispute settled above is no longer open there.
    await page.click('[data-test=menu-map]')
    const canvas = page.locator('[data-test=map-chart] canvas').first()
    await canvas.waitFor()
    await page.locator('.map-page .note', { hasText: '1 个网格未设置边界' }).waitFor()
    await page.waitForTimeout(500) // the map's first drawing animates in
    const box = await canvas.boundingBox()
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
    const card = page.locator('[data-test=map-grid]')
    await card.waitFor()
    const figures = await card.innerText()
    assert.match(figures, new RegExp(env('GK_MAP_GRID')))
    assert.match(figures, /未结纠纷\s*0\b/, 'its one dispute was resolved above')
    await shot('12-map')
    // Log out: the session ends and the console asks for a log-in again.
    await page.click('[data-test=log-out]')
    await page.waitForURL(/\/console\/login/)
    await page.goto(`${url}/console/disputes`)
    await page.waitForURL(/\/console\/login/)
  } else if (phase === 'admin') {
    // 管理 is in the administrator's menu; its first tab is the county's structure.
    await page.click('[data-test=menu-admin]')
    await page.waitForURL(/\/console\/admin/)
    await page.locator('[data-test=structure-tree] [data-test=node-township]').first().waitFor()
    assert.match(await page.locator('[data-test=structure-summary]').innerText(), /镇（街道） [1-9]/)
    await shot('13-admin-structure')

    // 账号: found by name; their console password reset through the dialog.
    await page.click('[data-test=tab-accounts]')
    const name = env('ACCOUNT_NAME')
    await page.fill('input[data-test=account-search]', name)
    const row = page.locator('[data-test=accounts] .el-table__row', { hasText: name })
    await row.waitFor()
    await shot('08-admin-accounts')
    await row.locator('[data-test=set-password]').click()
    const dialog = page.locator('.el-dialog:visible')
    await dialog.waitFor()
    if (process.env.ACCOUNT_LOGIN) await dialog.locator('input[data-test=pw-login]').fill(process.env.ACCOUNT_LOGIN)
    const theirLogin = await dialog.locator('input[data-test=pw-login]').inputValue()
    assert.ok(theirLogin, `${name} has a log-in name (or set ACCOUNT_LOGIN)`)
    const submit = dialog.locator('[data-test=pw-submit]')
    // A short password, then two that differ, are refused before anything is sent.
    await dialog.locator('input[data-test=pw-new]').fill('short1')
    assert.ok(await submit.isDisabled(), 'a short password is not sent')
    await dialog.locator('input[data-test=pw-new]').fill(env('NEW_PASSWORD'))
    await dialog.locator('input[data-test=pw-confirm]').fill(`${env('NEW_PASSWORD')}x`)
    assert.ok(await submit.isDisabled(), 'two different passwords are not sent')
    await dialog.locator('input[data-test=pw-confirm]').fill(env('NEW_PASSWORD'))
    await submit.click()
    await dialog.waitFor({ state: 'hidden' })
    await page.locator('.el-message--success').first().waitFor()
    // The new password opens a session for them (in a browser of their own).
    const theirs = await browser.newContext({ locale: 'zh-CN' })
    const them = await theirs.newPage()
    await them.goto(`${url}/console/`)
    await them.fill('input[data-test=login]', theirLogin)
    await them.fill('input[data-test=password]', env('NEW_PASSWORD'))
    await them.click('[data-test=submit]')
    await them.locator('[data-test=who]', { hasText: name }).waitFor()
    await theirs.close()

    // 设备: the handheld revoked, after a warning that its next sync will be refused.
    await page.click('[data-test=tab-devices]')
    const device = env('DEVICE_ID')
    await page.locator(`[data-test=revoke-${device}]`).click()
    const box = page.locator('.el-message-box:visible')
    await box.waitFor()
    assert.match(await box.innerText(), /下次同步时将被拒绝/)
    await box.locator('.el-button--primary').click()
    await box.waitFor({ state: 'hidden' })
    await page.locator(`[data-test=device-state-${device}]`, { hasText: '已停用' }).waitFor()
    assert.equal(await page.locator(`[data-test=revoke-${device}]`).count(), 0, 'no second revocation offered')
    await shot('09-admin-devices')

    // 审计: the log-ins are there (this administrator's, and the one above).
    await page.click('[data-test=tab-audit]')
    await page.locator('[data-test=audit] [data-test=audit-kind-log_in]').first().waitFor()
    await shot('10-admin-audit')

    // 名册: a grid chosen (township → village → grid); a file with a bad ID number is rejected
    // whole, its row listed.
    await page.click('[data-test=tab-rosters]')
    await page.locator('[data-test=roster-grid]').click()
    for (let level = 0; level < 3; level++) {
      await page.locator('.el-cascader-menu:visible').nth(level).locator('.el-cascader-node').first().click()
    }
    await page.locator('[data-test=roster-import]', { hasText: '导入到' }).waitFor()
    await page.setInputFiles('input[data-test=roster-file]', {
      name: 'roster.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('姓名,性别,公民身份号码\n测试人员,男,12345\n'),
    })
    await page.click('[data-test=roster-import]')
    await page.locator('[data-test=roster-report] .el-table__row').first().waitFor()
    assert.match(await page.locator('[data-test=roster-report]').innerText(), /公民身份号码/)
    await shot('11-admin-rosters')

    // 登记码: the form only (issuing would replace the handhelds' codes of a whole place).
    await page.click('[data-test=tab-codes]')
    await page.locator('input[data-test=codes-server]').waitFor()
    await shot('14-admin-codes')
  } else {
    throw new Error(`unknown phase ${phase}`)
  }
  assert.deepEqual(errors, [], 'no script errors on the page')
  console.log(`console e2e ${phase}: ok`)
} catch (e) {
  await shot(`failed-${phase}`).catch(() => {})
  console.error(`console e2e ${phase} failed at ${page.url()}:`, e)
  process.exitCode = 1
} finally {
  await browser.close()
}
