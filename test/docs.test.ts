import fs from 'node:fs';
import path from 'node:path';

// Every relative link in the project's documentation resolves: the file exists and, where the link names a
// heading, the heading exists (GitHub's anchor rules: lower case, punctuation dropped, spaces to hyphens).

const root = path.resolve(__dirname, '..');

function markdownFiles(): string[] {
  const found = ['README.md', 'CONTRIBUTING.md', 'bench/README.md', 'packages/kit-sandbox/README.md'];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  walk('docs');
  return found.filter((f) => fs.existsSync(path.join(root, f)));
}

export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsIn(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = anchorOf(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function linksIn(text: string): string[] {
  const withoutCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

describe('documentation links', () => {
  const files = markdownFiles();

  it('finds the documentation', () => {
    expect(files).toEqual(
      expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/configuration/environment.md']),
    );
  });

  it('reads headings as GitHub anchors them', () => {
    expect(anchorOf("Kit's budget: one call per user")).toBe('kits-budget-one-call-per-user');
    expect(anchorOf('Watching it: /status')).toBe('watching-it-status');
    expect([...anchorsIn('# A\n## A\n```\n# not a heading\n```\n')]).toEqual(['a', 'a-1']);
  });

  it.each(files)('every relative link in %s resolves', (file) => {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const broken: string[] = [];
    for (const link of linksIn(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      const [target, anchor] = link.split('#');
      const resolved = target
        ? path.resolve(path.dirname(path.join(root, file)), decodeURI(target))
        : path.join(root, file);
      if (!fs.existsSync(resolved)) {
        broken.push(`${link} (no such file)`);
        continue;
      }
      if (anchor && resolved.endsWith('.md') && !anchorsIn(fs.readFileSync(resolved, 'utf8')).has(anchor))
        broken.push(`${link} (no such heading)`);
    }
    expect(broken).toEqual([]);
  });
});
