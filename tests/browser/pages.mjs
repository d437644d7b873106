// The browser test of OneCity's pages (tests/browser.test.sh runs it):
// Debian's chromium driven by playwright-core, against a live engine on
// a test's demo-like day.  Reads EXPECTED (JSON made from the views and
// `audit card` by the shell) and writes screenshots to OUT.
//
//   OP=http://127.0.0.1:P  PUB=http://127.0.0.1:Q  EXPECTED=f.json
//   OUT=dir  CHROMIUM=/usr/bin/chromium  CAPS=tariff/fare_caps.txt
//   node pages.mjs
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const OP = env('OP'), PUB = env('PUB'), OUT = env('OUT');
const want = JSON.parse(readFileSync(env('EXPECTED'), 'utf8'));
mkdirSync(OUT, { recursive: true });

// Money as the pages print it (engine/web-dash.c, explain_money, which
// groups thousands with commas: "€1,643.83").
function money(c) {
  const a = Math.abs(c);
  const whole = String(Math.floor(a / 100)).replace(/\B(?=(\d{3})+(?!\d))/g,
      ',');
  return (c < 0 ? '-' : '') + '\u20ac' + whole + '.' +
      String(a % 100).padStart(2, '0');
}

// RFC 4180 CSV into rows of fields.
function parseCsv(text) {
  const rows = [];
  let row = [], f = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; }
      else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; }
    else if (c === '\n') { row.push(f); rows.push(row); row = []; f = ''; }
    else if (c !== '\r') f += c;
  }
  if (f !== '' || row.length) { row.push(f); rows.push(row); }
  return rows;
}
const cents = (s) => Math.round(Number(s.replace(/[^0-9.-]/g, '')) * 100);
// "HH:MM" in the tariff's time zone of a UTC day and "HH:MM:SS".
function localHM(day, utc) {
  return new Date(`${day}T${utc}Z`).toLocaleTimeString('en-GB',
      { timeZone: 'Europe/Amsterdam', hour: '2-digit', minute: '2-digit' });
}

// What `audit card --csv` says of the rider's day: its journeys (start
// time in local time, what each was charged) and the day's total.  Two
// layouts: TfL's columns (Date, Start Time, ..., Charge, Credit, Day
// Total; local times; a cap row and a day total row), or the older one
// (date, time in UTC, journey, charge; a "day total" row).
function riderFromCard(r, day) {
  const rows = parseCsv(r.card_csv), h = rows[0];
  const at = (n) => h.indexOf(n);
  const out = { reference: r.reference, journeys: [], charge_cents: null };
  const tfl = at('Date') >= 0;
  for (const row of rows.slice(1)) {
    if (row[at(tfl ? 'Date' : 'date')] !== day) continue;
    if (tfl) {
      const j = row[at('Journey/Action')];
      if (j.startsWith('Day total'))
        out.charge_cents = cents(row[at('Day Total')]);
      else if (row[at('Charge')] !== '')
        out.journeys.push({ start: row[at('Start Time')],
          charge_cents: cents(row[at('Charge')]) -
              (row[at('Credit')] === '' ? 0 : cents(row[at('Credit')])) });
    } else if (row[at('journey')] === 'day total')
      out.charge_cents = cents(row[at('charge')]);
    else
      out.journeys.push({ start: localHM(day, row[at('time')]),
        charge_cents: cents(row[at('charge')]) });
  }
  out.payment_words = 'Paid: ' + money(out.charge_cents);
  // The tariff's cap names (fare_caps.txt's cap_name column).
  const caps = parseCsv(readFileSync(env('CAPS'), 'utf8'));
  out.caps = caps.slice(1).map((c) => c[caps[0].indexOf('cap_name')]);
  out.capped = r.capped;
  return out;
}
want.rider = riderFromCard(want.rider, want.day);

let failures = 0, checks = 0;
function check(what, ok, detail) {
  checks++;
  if (!ok) {
    failures++;
    console.error(`browser: FAILED: ${what}${detail ? ': ' + detail : ''}`);
  }
}
function eq(what, got, exp) {
  check(what, got === exp, `got ${JSON.stringify(got)}, want ${JSON.stringify(exp)}`);
}

// WCAG contrast ratio of two computed CSS colours "rgb(r, g, b)".
function lum(rgb) {
  const v = rgb.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((x) => {
    x /= 255;
    return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function contrast(fg, bg) {
  const a = lum(fg), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

// A basic accessibility check: a language, one h1, every form field
// labelled, tables with header cells, images named, and text contrast of
// at least 4.5:1 against the nearest opaque background.
async function a11y(page, name) {
  const r = await page.evaluate(() => {
    const bg = (e) => {
      for (; e; e = e.parentElement) {
        const c = getComputedStyle(e).backgroundColor;
        if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent')
          return c;
      }
      return 'rgb(255, 255, 255)';
    };
    const texts = [];
    document.querySelectorAll('h1, h2, p, th, td, dt, dd, li, label, a, button')
      .forEach((e) => {
        if (e.offsetParent === null || !e.textContent.trim()) return;
        texts.push([e.tagName + (e.id ? '#' + e.id : ''),
          getComputedStyle(e).color, bg(e)]);
      });
    return {
      lang: document.documentElement.lang,
      h1: document.querySelectorAll('h1').length,
      unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter((i) => !(i.id && document.querySelector(`label[for="${i.id}"]`)) &&
            !i.getAttribute('aria-label')).length,
      headless: [...document.querySelectorAll('table')]
        .filter((t) => !t.querySelector('th')).length,
      unnamedImg: [...document.querySelectorAll('svg[role=img], img')]
        .filter((i) => !i.getAttribute('aria-labelledby') &&
            !i.getAttribute('aria-label') && !i.getAttribute('alt')).length,
      texts,
    };
  });
  check(`${name}: html lang`, r.lang === 'en' || r.lang === 'nl', r.lang);
  eq(`${name}: one h1`, r.h1, 1);
  eq(`${name}: unlabelled fields`, r.unlabelled, 0);
  eq(`${name}: tables without header cells`, r.headless, 0);
  eq(`${name}: unnamed images`, r.unnamedImg, 0);
  const low = r.texts.map(([w, fg, bg]) => [w, contrast(fg, bg)])
    .filter(([, c]) => c < 4.5);
  check(`${name}: contrast >= 4.5:1`, low.length === 0,
      low.slice(0, 3).map(([w, c]) => `${w} ${c.toFixed(2)}`).join(', '));
}

async function text(page, sel) {
  const e = await page.$(sel);
  return e ? (await e.textContent()).trim() : null;
}

// The dashboard's figures equal the views (want.dashboard).
async function dashboardFigures(page, when) {
  const d = want.dashboard;
  eq(`${when}: taps`, await text(page, '[data-k="taps.acknowledged"]'),
      String(d.taps));
  const ops = await page.$$eval('[data-k^="revenue_cents."]',
      (es) => es.map((e) => e.getAttribute('data-k').slice(14)));
  eq(`${when}: operators shown`, ops.sort().join(' '),
      Object.keys(d.revenue).sort().join(' '));
  for (const [n, c] of Object.entries(d.revenue))
    eq(`${when}: revenue of ${n}`,
        await text(page, `[data-k="revenue_cents.${n}"]`), money(c));
  const sts = await page.$$eval('[data-k$=".legs"]',
      (es) => es.map((e) => e.getAttribute('data-k').split('.')[1]));
  eq(`${when}: statuses shown`, sts.sort().join(' '),
      Object.keys(d.status).sort().join(' '));
  for (const [s, v] of Object.entries(d.status)) {
    eq(`${when}: ${s} legs`,
        await text(page, `[data-k="journeys_by_status.${s}.legs"]`),
        String(v.legs));
    eq(`${when}: ${s} fares`,
        await text(page, `[data-k="journeys_by_status.${s}.fares_cents"]`),
        money(v.fares_cents));
  }
  eq(`${when}: charged`, await text(page, '[data-k="charges.charged_cents"]'),
      money(d.charged));
  eq(`${when}: captured`,
      await text(page, '[data-k="settlement.captured.cents"]'),
      money(d.captured));
}

async function dashboard(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const r = await page.goto(`${OP}/?day=${want.day}`);
  eq('dashboard status', r.status(), 200);
  await dashboardFigures(page, 'dashboard as served');
  check('dashboard chart drawn',
      (await page.getAttribute('#chart-line', 'd')).length > 1000);
  await a11y(page, 'dashboard');
  // The script refreshes it from /api/v1/ every 5 s: the figures it
  // writes must be the views' too.
  await page.waitForFunction(() => Number(document.getElementById('dashboard')
    .getAttribute('data-refreshes')) >= 1, null, { timeout: 60000 });
  await dashboardFigures(page, 'dashboard after a refresh');
  check('dashboard not stale', !(await page.$('main.stale')));
  eq('dashboard script errors', errors.join('; '), '');
  await page.screenshot({ path: `${OUT}/dashboard.png`, fullPage: true });
  await page.close();
}

// The rider page shows the charge and the journeys that `audit card`
// shows for that day (want.rider), in English and Dutch, with and
// without JavaScript.
async function rider(browser, js) {
  const ctx = await browser.newContext({ javaScriptEnabled: js,
    viewport: { width: 900, height: 900 } });
  const page = await ctx.newPage();
  const t = want.rider;
  // Typed into the form, as a rider would.
  let r = await page.goto(`${PUB}/trips`);
  eq('form status', r.status(), 200);
  await a11y(page, 'rider form');
  await page.fill('#ref', t.reference);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  eq('rider charge', await text(page, '#charged'), money(t.charge_cents));
  const rows = await page.$$eval('#journeys tbody tr', (rs) => rs.map((x) =>
    [...x.querySelectorAll('td')].map((c) => c.textContent.trim())));
  eq('rider journeys', rows.length, t.journeys.length);
  rows.forEach((row, i) => {
    const j = t.journeys[i];
    if (!j) return;
    eq(`journey ${i + 1} time`, row[0].slice(0, 5), j.start);
    eq(`journey ${i + 1} charged`, row[4], money(j.charge_cents));
  });
  // The caps named are the tariff's, and one at least on a capped day.
  const capNames = await text(page, '#cap-names');
  if (t.capped)
    check('rider cap named', capNames !== null &&
        t.caps.some((c) => capNames.includes(c)), capNames);
  const pay = await text(page, '#payment');
  check('rider payment status', pay && pay.includes(t.payment_words),
      `${pay} lacks ${t.payment_words}`);
  await a11y(page, 'rider page');
  if (js) await page.screenshot({ path: `${OUT}/rider-en.png`, fullPage: true });
  // Dutch, by the link in the header.
  await Promise.all([page.waitForNavigation(), page.click('#lang')]);
  eq('Dutch page', await page.getAttribute('html', 'lang'), 'nl');
  check('Dutch heading', (await text(page, 'h1')) === 'Uw reizen');
  eq('Dutch charge', await text(page, '#charged'), money(t.charge_cents));
  if (js) await page.screenshot({ path: `${OUT}/rider-nl.png`, fullPage: true });
  // A wrong reference: "not found", the same page whatever it was.
  r = await page.goto(`${PUB}/trips?ref=OC0000000000000000&lang=en`);
  eq('wrong reference status', r.status(), 404);
  check('wrong reference says not found',
      (await text(page, '#not-found') || '').startsWith('Not found'));
  if (js) await page.screenshot({ path: `${OUT}/not-found.png` });
  await ctx.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  await dashboard(browser);
  await rider(browser, true);
  await rider(browser, false);
} finally {
  await browser.close();
}
console.log(`browser: ${checks} checks, ${failures} failed; screenshots in ${OUT}`);
process.exit(failures === 0 ? 0 : 1);
