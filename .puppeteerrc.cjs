// Puppeteer configuration. Where a system Chromium exists (Debian's /usr/bin/chromium,
// or PUPPETEER_EXECUTABLE_PATH), skip Puppeteer's own browser download: machines
// without outside network cannot fetch it. Elsewhere Puppeteer downloads as usual.
const fs = require('node:fs');

const candidates = [process.env.PUPPETEER_EXECUTABLE_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
const systemChromium = candidates.find((p) => p && fs.existsSync(p));

/** @type {import('puppeteer').Configuration} */
module.exports = systemChromium ? { skipDownload: true, executablePath: systemChromium } : {};
