// Run axe-core on pages in headless Chromium (Debian's, through puppeteer-core) and print one JSON line per page:
// node axe.mjs CHROMIUM PAGE_URL... -> {"url": ..., "violations": [{"id", "impact", "nodes", "help"}]}
// Module paths come from NODE_PATH (the test installs axe-core and puppeteer-core there).
import { createRequire } from "node:module";
import path from "node:path";
const require = createRequire(path.resolve(process.env.NODE_PATH || ".", "noop.js"));
const puppeteer = require("puppeteer-core");
const axeSource = require("fs").readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const [chromium, ...pages] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: chromium, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--allow-file-access-from-files"],
});
try {
  for (const url of pages) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(url, { waitUntil: "load", timeout: 120000 });
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () =>
      await window.axe.run(document, { resultTypes: ["violations"] }));
    const violations = result.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
      help: v.help, example: v.nodes[0] && v.nodes[0].html.slice(0, 160),
      all: process.env.AXE_DETAILS ? v.nodes.map(n => [n.html.slice(0, 80), n.any.map(a => a.message).join(" ")]) : undefined }));
    console.log(JSON.stringify({ url, violations }));
    await page.close();
  }
} finally {
  await browser.close();
}
