#!/usr/bin/env node
// Purity check for the deterministic core (DESIGN.md section 1): files under src/raft/ and src/shard/
// must not touch wall clocks, timers, ambient randomness, the process or Node built-ins. It parses each
// file with the TypeScript compiler (a real parser, so strings and comments never count) and fails on
// any reference to a forbidden global, any `async` function, or any import outside src/base.
// Layer rules and cycles are checked by dependency-cruiser (.dependency-cruiser.cjs).
// Files under src/meta/ (the meta shard's state machine: its apply must be deterministic, time only from the
// log or passed in) may do I/O but must not read clocks, start timers or use ambient randomness either.
import ts from 'typescript';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const rootArg = process.argv.indexOf('--root');
const root =
  rootArg > 0 ? resolve(process.argv[rootArg + 1]) : resolve(dirname(new URL(import.meta.url).pathname), '..');
const pureDirs = ['src/raft', 'src/shard'];
const forbiddenGlobals = new Set([
  'Date',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'queueMicrotask',
  'performance',
  'process',
  'require',
  'global',
  'globalThis',
  'Buffer',
  'crypto',
  'fetch',
]);

const deterministicDirs = ['src/meta'];
const clockGlobals = new Set(['Date', 'setTimeout', 'setInterval', 'setImmediate', 'performance', 'process']);

function walk(dir) {
  let out = [];
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const problems = [];
for (const dir of pureDirs) {
  for (const file of walk(join(root, dir))) {
    const rel = relative(root, file);
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const report = (node, what) => {
      const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      problems.push(`${rel}:${line + 1}:${character + 1}: ${what}`);
    };
    const visit = (node) => {
      if (ts.isIdentifier(node) && forbiddenGlobals.has(node.text)) {
        const parent = node.parent;
        const isPropertyName =
          (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
          (ts.isPropertyAssignment(parent) && parent.name === node) ||
          (ts.isPropertySignature(parent) && parent.name === node) ||
          (ts.isPropertyDeclaration(parent) && parent.name === node) ||
          (ts.isMethodDeclaration(parent) && parent.name === node) ||
          (ts.isMethodSignature(parent) && parent.name === node);
        if (!isPropertyName) report(node, `uses '${node.text}' (the core is pure: ticks and a seeded Random only)`);
      }
      if (
        ts.isPropertyAccessExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'Math' &&
        node.name.text === 'random'
      ) {
        report(node, "uses 'Math.random' (pass a seeded Random from src/base)");
      }
      if (node.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword))
        report(node, "declares an 'async' function (the core is synchronous)");
      if (ts.isAwaitExpression(node)) report(node, "uses 'await' (the core is synchronous)");
      if (
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
        node.moduleSpecifier &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        const spec = node.moduleSpecifier.text;
        const target = spec.startsWith('.') ? relative(root, resolve(dirname(file), spec)) : spec;
        const ownDir = rel.split('/').slice(0, 2).join('/');
        if (!(target.startsWith('src/base') || target.startsWith(ownDir)))
          report(node, `imports '${spec}' (only src/base and its own folder are allowed)`);
      }
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
        report(node, 'uses dynamic import()');
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}

for (const dir of deterministicDirs) {
  for (const file of walk(join(root, dir))) {
    const rel = relative(root, file);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const report = (node, what) => {
      const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      problems.push(`${rel}:${line + 1}:${character + 1}: ${what}`);
    };
    const visit = (node) => {
      const parent = node.parent;
      const isName =
        parent &&
        (ts.isPropertyAccessExpression(parent) ||
          ts.isPropertyAssignment(parent) ||
          ts.isPropertySignature(parent) ||
          ts.isPropertyDeclaration(parent) ||
          ts.isMethodDeclaration(parent) ||
          ts.isMethodSignature(parent)) &&
        parent.name === node;
      if (ts.isIdentifier(node) && clockGlobals.has(node.text) && !isName)
        report(node, `uses '${node.text}' (meta/ is deterministic: time comes from the log or is passed in)`);
      if (
        ts.isPropertyAccessExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'Math' &&
        node.name.text === 'random'
      )
        report(node, "uses 'Math.random' (meta/ is deterministic)");
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} problem(s) in the pure core or the deterministic state machines:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log('check-imports: src/raft and src/shard are pure; src/meta reads no clock');
