/**
 * The eval report as a page of its own (report.html beside report.md): the same Markdown
 * rendered by `marked`, the inline SVG charts passing through as HTML, with a little
 * styling for the tables. Open it in any browser.
 */
import { marked } from 'marked';

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1d232b; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #d5d9de; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #f2f4f7; }
code { background: #f2f4f7; padding: 0 3px; border-radius: 3px; }
svg { max-width: 100%; height: auto; }
`;

export function reportHtml(markdown: string, title: string): string {
  const body = marked.parse(markdown, { async: false, gfm: true });
  const escaped = title.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  return `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escaped}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n${body}\n</body>\n</html>\n`;
}
