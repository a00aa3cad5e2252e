// The function-length ratchet (issue 9, section 6): no function, method or arrow function in src/ and cmd/
// may be longer than FUNCTION_LINES_MAX lines (from its first line to its closing brace, as formatted by
// Prettier). The limit only goes down: when the longest function got shorter, lower the limit to match.
// Usage: node scripts/check-function-length.mjs [--top N]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** Today's limit. Lower it when the longest function gets shorter; never raise it. */
const FUNCTION_LINES_MAX = 99;
const ROOTS = ['src', 'cmd'];

const root = new URL('..', import.meta.url).pathname;
const top = process.argv.includes('--top') ? Number(process.argv[process.argv.indexOf('--top') + 1]) : 0;

function* tsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

function nameOf(node, sf) {
  if (node.name !== undefined) {
    const own = node.name.getText(sf);
    const cls = ts.isClassLike(node.parent) && node.parent.name !== undefined ? `${node.parent.name.text}.` : '';
    return cls + own;
  }
  if (
    ts.isVariableDeclaration(node.parent) ||
    ts.isPropertyDeclaration(node.parent) ||
    ts.isPropertyAssignment(node.parent)
  ) {
    return node.parent.name.getText(sf);
  }
  return '(anonymous)';
}

const found = [];
for (const dir of ROOTS) {
  for (const path of tsFiles(join(root, dir))) {
    const text = readFileSync(path, 'utf8');
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        found.push({ lines: end - start + 1, where: `${relative(root, path)}:${start + 1}`, name: nameOf(node, sf) });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found.slice(0, top)) console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.where}`);
const over = found.filter((f) => f.lines > FUNCTION_LINES_MAX);
if (over.length > 0) {
  for (const f of over)
    console.error(`function too long: ${f.name} (${f.where}) has ${f.lines} lines, the limit is ${FUNCTION_LINES_MAX}`);
  console.error('Split it into named steps (scripts/check-function-length.mjs holds the ratchet).');
  process.exit(1);
}
const longest = found[0]?.lines ?? 0;
if (longest < FUNCTION_LINES_MAX) {
  console.log(
    `function length: longest ${longest} lines, limit ${FUNCTION_LINES_MAX}: lower FUNCTION_LINES_MAX to ${longest} (the ratchet only goes down)`,
  );
}
