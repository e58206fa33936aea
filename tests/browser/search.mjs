// Search a site opened from disk, as a reader would: node search.mjs CHROMIUM file:///.../index.html QUERY
// Prints {"status": the search box's status line, "results": titles of the results shown}.
import { createRequire } from "node:module";
import path from "node:path";
const require = createRequire(path.resolve(process.env.NODE_PATH || ".", "noop.js"));
const puppeteer = require("puppeteer-core");

const [chromium, url, query] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: chromium, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"],
});
try {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: "load", timeout: 120000 });
  await page.click("label[for=__search]");
  await page.type("input[data-md-component=search-query]", query, { delay: 30 });
  await page.waitForFunction(() => document.querySelectorAll(".md-search-result__item").length > 0 ||
      /no matching/i.test(document.querySelector(".md-search-result__meta")?.textContent || ""),
    { timeout: 30000 }).catch(() => {});
  const status = await page.$eval(".md-search-result__meta", el => el.textContent.trim());
  const results = await page.$$eval(".md-search-result__item h1, .md-search-result__item h2",
                                    els => els.map(e => e.textContent.trim()).slice(0, 5));
  console.log(JSON.stringify({ status, results }));
} finally {
  await browser.close();
}
