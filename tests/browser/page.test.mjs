// Drives the explainer page of `stage0-runner report --html` in headless Chromium:
// opens it from a file, folds and expands a stage, searches, steps the first recorded
// trace forward and back, opens a file preview, takes screenshots, and fails on any
// console error or any request that leaves the page.
//
// node page.test.mjs --page PAGE.html --shots DIR [--chromium /usr/bin/chromium]
//                    [--search TEXT --expect-hits N] [--trace-step N]
// --trace-step: the step whose trace to play (default: the first traced step); it must
// read its input and write bytes within the recorded window, as the seed does.
// --show-step N: also open step N alone and take 5-step.png of it.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const opt = { chromium: '/usr/bin/chromium', search: 'hex0', 'expect-hits': null, 'trace-step': null, 'show-step': null };
for (let k = 2; k < process.argv.length; k += 2) opt[process.argv[k].replace(/^--/, '')] = process.argv[k + 1];
if (!opt.page || !opt.shots) {
  console.error('usage: node page.test.mjs --page PAGE.html --shots DIR [--chromium PATH] [--search TEXT --expect-hits N]');
  process.exit(2);
}
fs.mkdirSync(opt.shots, { recursive: true });
const failures = [];
const check = (ok, what) => {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures.push(what);
};

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'stage0-page-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium,
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
  ],
});
const pageUrl = pathToFileURL(path.resolve(opt.page)).href;
const outside = [];
const consoleErrors = [];
context.on('request', (r) => { if (r.url() !== pageUrl) outside.push(r.url()); });
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(pageUrl);

  // Everything folded at first; the stages are there.
  const steps = await page.locator('details.step').count();
  const stages = await page.locator('section.stage').count();
  check(steps > 0 && stages > 0, `${stages} stages, ${steps} steps`);
  check((await page.locator('details.step[open]').count()) === 0, 'every step starts folded');
  await page.screenshot({ path: path.join(opt.shots, '1-overview.png') });

  // Expand a stage: its "open all steps" button opens exactly its steps.
  const first = page.locator('section.stage').first();
  const inFirst = await first.locator('details.step').count();
  await first.locator('button.openall').click();
  check((await first.locator('details.step[open]').count()) === inFirst, `the first stage opens its ${inFirst} steps`);
  check((await page.locator('details.step[open]').count()) === inFirst, 'and no other step opens');
  await first.locator('button.openall').click();
  check((await page.locator('details.step[open]').count()) === 0, 'and folds them again');

  // Search.
  await page.fill('#search', opt.search);
  const visible = await page.locator('details.step:not(.hidden)').count();
  const hits = await page.textContent('#hits');
  check(visible > 0 && visible < steps, `search "${opt.search}" leaves ${visible} of ${steps} steps`);
  check(hits === `${visible} of ${steps} steps`, `the count says "${hits}"`);
  if (opt['expect-hits'] !== null) check(visible === Number(opt['expect-hits']), `expected ${opt['expect-hits']} hits`);
  const texts = await page.locator('details.step:not(.hidden)').allTextContents();
  check(texts.every((t) => t.toLowerCase().includes(opt.search.toLowerCase())), 'every step left mentions it');
  await page.screenshot({ path: path.join(opt.shots, '2-search.png') });
  await page.fill('#search', '');
  check((await page.locator('details.step.hidden').count()) === 0, 'clearing the search shows every step');

  // Time travel through the first traced step.
  const tt = opt['trace-step'] ? page.locator(`#step-${opt['trace-step']} .tt`) : page.locator('.tt').first();
  const stepId = await tt.evaluate((el) => el.closest('details').id);
  await page.evaluate((id) => { document.getElementById(id).open = true; }, stepId);
  await tt.locator('button.ttopen').click();
  const player = tt.locator('.player');
  const pos = () => player.locator('.pos').textContent();
  const regs = () => player.locator('table.regs').textContent();
  check((await pos()).startsWith('instruction 0 of '), `the trace of ${stepId} opens at instruction 0`);
  const seen = [await regs()];
  for (let k = 1; k <= 6; k++) {
    await page.keyboard.press('ArrowRight');
    seen.push(await regs());
  }
  check((await pos()).startsWith('instruction 6 of '), 'six steps forward with the arrow key');
  check(new Set(seen).size > 1, 'the registers change while stepping');
  check((await player.locator('.src .cur').count()) === 1, 'the current source line is marked');
  const line = await player.locator('.src .cur').textContent();
  check(/[0-9A-Fa-f]{2}/.test(line), `it is a line of hex: "${line.trim()}"`);
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  check((await pos()).startsWith('instruction 4 of '), 'two steps back');
  check((await regs()) === seen[4], 'back at 4 the registers are what they were going forward');
  await player.locator('button.back').click();
  check((await regs()) === seen[3], 'the back button steps back too');
  await player.locator('button.nextio').click();
  const out = await player.locator('.outbox').textContent();
  check(/: \d+ bytes/.test(out), `jumping to the next byte written shows the output: "${out.split('\n')[0]}"`);
  check((await player.locator('.event').textContent()).includes('write('), 'and the write that made it');
  const input = await player.locator('.inbox').textContent();
  check(input.includes(' @ '), `the input shows the byte being read: "${input.split('\n')[0]}"`);
  await player.locator('.controls input[type=range]').fill('200');
  check((await pos()).startsWith('instruction 200 of '), 'the slider jumps to instruction 200');
  await tt.scrollIntoViewIfNeeded();
  await page.evaluate((id) => document.getElementById(id).scrollIntoView(), stepId);
  await page.screenshot({ path: path.join(opt.shots, '3-time-travel.png') });

  // A file preview: hex and text.
  await page.locator(`#${stepId} button.pv`).last().click();
  check(await page.locator('#preview').isVisible(), 'a preview opens');
  check(/^00000000 /.test(await page.textContent('#pvhex')), 'with a hex dump from offset 0');
  await page.screenshot({ path: path.join(opt.shots, '4-preview.png') });
  await page.click('#pvclose');

  // Following a "→ step N" link opens that step.
  const next = page.locator(`#${stepId} a.next`).first();
  if ((await next.count()) > 0) {
    const target = (await next.getAttribute('href')).slice(1);
    await next.click();
    check(await page.locator(`#${target}`).evaluate((el) => el.open), `the link opens ${target}`);
  }
  if (opt['show-step']) {
    await page.click('#collapse');
    const step = page.locator(`#step-${opt['show-step']}`);
    await step.locator(':scope > summary').click();
    check(await step.evaluate((el) => el.open), `step ${opt['show-step']} opens`);
    const folded = await step.locator('details.more:not([open])').count();
    console.log(`note step ${opt['show-step']}: ${folded} folded file list(s)`);
    await step.evaluate((el) => el.scrollIntoView());
    await page.screenshot({ path: path.join(opt.shots, '5-step.png') });
    await page.click('#collapse');
  }

} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
check(consoleErrors.length === 0, `no console errors${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);
check(outside.length === 0, `no request leaves the page${outside.length ? ': ' + outside.join(' ') : ''}`);
console.log(failures.length ? `${failures.length} check(s) failed` : 'all checks passed');
process.exit(failures.length ? 1 : 0);
