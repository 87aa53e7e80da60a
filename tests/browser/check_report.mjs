// Renders the simulator's HTML report in a real browser (Debian's chromium, headless, driven by
// puppeteer-core through the DevTools protocol) and checks what a reader would see: for each
// window width and each language of the report's switch (chosen by clicking it, as a reader
// does), the page is no wider than the window, exactly the chosen language is shown, no text
// runs out of its box or off the page, each chart is drawn once and fits its figure, no chart
// label lies outside its chart or on another label, and the Japanese and Vietnamese text is
// drawn by a font that has its glyphs. Writes a full-page screenshot of each view.
//
// Usage: node check_report.mjs --chromium PATH --screenshots DIR [--widths 1400,360]
//                              [--expect KIND,...] REPORT.html
//   --expect  the page is known to be broken: succeed only if every KIND listed is reported
//             (the test of this test: tests/browser/broken_report.html)
// Exits 0 when the report passes (or, with --expect, when every expected kind was found), 1
// with the problems listed otherwise, 2 on bad arguments.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';

function parseArgs(argv) {
  const args = { widths: [1400, 360], expect: null, chromium: null, screenshots: null, report: null };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--chromium') args.chromium = value();
    else if (a === '--screenshots') args.screenshots = value();
    else if (a === '--widths') args.widths = value().split(',').map(Number);
    else if (a === '--expect') args.expect = value().split(',');
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (args.report) throw new Error(`one report only (got ${args.report} and ${a})`);
    else args.report = a;
  }
  if (!args.chromium || !args.screenshots || !args.report) {
    throw new Error('usage: check_report.mjs --chromium PATH --screenshots DIR REPORT.html');
  }
  if (args.widths.some((w) => !Number.isInteger(w) || w < 200)) {
    throw new Error(`--widths: expected whole numbers of pixels of at least 200, got ${args.widths}`);
  }
  return args;
}

// Runs in the page: what is wrong with the view as shown, each problem with its kind.
function problemsInPage(language) {
  const problems = [];
  const add = (kind, message) => problems.push({ kind, message });
  const snippet = (text) => JSON.stringify(text.trim().slice(0, 40));
  const viewport = document.documentElement.clientWidth;
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > viewport) {
    add('page-width', `the page is ${pageWidth}px wide, wider than the ${viewport}px window`);
  }
  const shown = [...document.querySelectorAll('article')].filter((a) => a.checkVisibility());
  if (language !== null) {
    const ids = shown.map((a) => a.id).join(', ');
    if (shown.length !== 1 || shown[0].lang !== language) {
      add('language', `after choosing ${language}, shown: ${ids || 'nothing'}`);
    }
  }
  const root = shown[0] ?? document.body;

  // Text of the page (outside the charts): inside its block and inside the window.
  const blockOf = (element) => {
    let e = element;
    while (e.parentElement && getComputedStyle(e).display.startsWith('inline')) e = e.parentElement;
    return e;
  };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.textContent.trim() || parent.closest('svg') || !parent.checkVisibility()) continue;
    const block = blockOf(parent);
    const box = block.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1) {
        add('text-overflow', `text ${snippet(node.textContent)} runs ${Math.round(
          Math.max(box.left - r.left, r.right - box.right))}px out of its <${block.localName}>`);
        break;
      }
      if (r.left < -0.5 || r.right > viewport + 0.5) {
        add('text-overflow', `text ${snippet(node.textContent)} runs off the page`);
        break;
      }
    }
  }

  // Charts: one layout shown per figure, within the figure; labels inside and apart.
  for (const figure of root.querySelectorAll('figure')) {
    const name = figure.dataset.chart ?? figure.id ?? 'figure';
    const svgs = [...figure.querySelectorAll('svg')].filter((s) => s.checkVisibility());
    if (svgs.length !== 1) add('chart-shown', `${name}: ${svgs.length} layouts shown, expected 1`);
    const frame = figure.getBoundingClientRect();
    for (const svg of svgs) {
      const r = svg.getBoundingClientRect();
      if (r.right > frame.right + 1 || r.right > viewport + 0.5) {
        add('chart-width', `${name} (${svg.getAttribute('class')}): ${Math.round(r.width)}px ` +
            `wide, ending ${Math.round(r.right - Math.min(frame.right, viewport))}px past its figure`);
      }
      const labels = [...svg.querySelectorAll('text')]
        .map((t) => ({ text: t.textContent, box: t.getBoundingClientRect() }))
        .filter((l) => l.box.width > 0);
      for (const l of labels) {
        const b = l.box;
        if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 ||
            b.bottom > r.bottom + 1) {
          add('chart-label-outside', `${name}: label ${snippet(l.text)} runs out of its chart`);
        }
      }
      // Two labels overlap when they share more than a quarter of the lower one's height: a
      // font's line box (ascent and descent) is taller than the glyphs, so wrapped lines touch.
      for (let i = 0; i < labels.length; ++i) {
        for (let j = i + 1; j < labels.length; ++j) {
          const a = labels[i].box;
          const b = labels[j].box;
          const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (w > 1 && h > 0.25 * Math.min(a.height, b.height)) {
            add('chart-label-overlap', `${name}: labels ${snippet(labels[i].text)} and ` +
                `${snippet(labels[j].text)} overlap`);
          }
        }
      }
    }
  }
  return problems;
}

// The platform fonts chromium drew an element's text with (CSS.getPlatformFontsForNode).
async function fontsOf(cdp, selector) {
  const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
  const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
  if (!nodeId) return null;
  const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
  return fonts.map((f) => f.familyName);
}

// Japanese must be drawn by a CJK font, and Vietnamese by one font alone (a second family means
// a fallback for diacritics the first one lacks: mixed or missing glyphs).
async function fontProblems(cdp, language) {
  if (language !== 'ja' && language !== 'vi') return [];
  const problems = [];
  for (const selector of [`#report-${language} h1`, `#report-${language} h2`]) {
    const families = await fontsOf(cdp, selector);
    if (!families) continue;
    if (!families.length) {
      problems.push({ kind: 'font', message: `${selector} drawn with no font: not shown` });
      continue;
    }
    if (language === 'ja' && !families.some((f) => /CJK|Gothic|Hiragino|JP/i.test(f))) {
      problems.push({ kind: 'font', message: `${selector} drawn with ${families}: no Japanese font` });
    }
    if (language === 'vi' && new Set(families).size !== 1) {
      problems.push({ kind: 'font', message: `${selector} drawn with ${families}: mixed fonts` });
    }
  }
  return problems;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`check_report: ${e.message}`);
    process.exit(2);
  }
  mkdirSync(args.screenshots, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: args.chromium,
    headless: true,
    // --no-sandbox: the tests may run as root (CI), where chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none', '--lang=en-US'],
  });
  const found = [];
  try {
    const page = await browser.newPage();
    const cdp = await page.createCDPSession();
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const url = pathToFileURL(path.resolve(args.report)).href;
    const stem = path.basename(args.report, '.html');
    for (const width of args.widths) {
      await page.setViewport({ width, height: 900, deviceScaleFactor: 1 });
      await page.goto(url, { waitUntil: 'load' });
      await page.evaluate(() => document.fonts.ready);
      const languages = await page.$$eval('input.language', (inputs) =>
        inputs.map((i) => i.id.replace(/^lang-/, '')));
      // On opening, the language checked in the page is the one shown.
      const opening = await page.$$eval('input.language:checked', (inputs) =>
        inputs.map((i) => i.id.replace(/^lang-/, '')));
      if (opening.length === 1) {
        const shown = (await page.evaluate(problemsInPage, opening[0]))
          .filter((p) => p.kind === 'language');
        console.log(`opening at ${width}px: ${shown.length ? 'wrong language' : `${opening[0]}, ok`}`);
        for (const p of shown) {
          console.log(`  [${p.kind}] ${p.message}`);
          found.push(p);
        }
      }
      for (const language of languages.length ? languages : [null]) {
        if (language !== null) await page.click(`label[for="lang-${language}"]`);
        const view = `${language ?? 'page'} at ${width}px`;
        const problems = [
          ...(await page.evaluate(problemsInPage, language)),
          ...(await fontProblems(cdp, language)),
        ];
        const shot = path.join(args.screenshots, `${stem}-${language ?? 'page'}-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`${view}: ${problems.length ? `${problems.length} problem(s)` : 'ok'} (${shot})`);
        if (language === 'ja' || language === 'vi') {
          console.log(`  heading drawn with ${await fontsOf(cdp, `#report-${language} h1`)}`);
        }
        for (const p of problems) {
          console.log(`  [${p.kind}] ${p.message}`);
          found.push(p);
        }
      }
    }
  } finally {
    await browser.close();
  }
  if (args.expect) {
    const kinds = new Set(found.map((p) => p.kind));
    const missed = args.expect.filter((k) => !kinds.has(k));
    if (missed.length) {
      console.error(`check_report: expected problems not found: ${missed.join(', ')}`);
      process.exit(1);
    }
    console.log(`check_report: every expected problem found (${args.expect.join(', ')})`);
    process.exit(0);
  }
  if (found.length) {
    console.error(`check_report: ${found.length} problem(s) in ${args.report}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`check_report: ${e.stack ?? e}`);
  process.exit(1);
});
