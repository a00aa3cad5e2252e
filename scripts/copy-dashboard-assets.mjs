#!/usr/bin/env node
// Copies the dashboard's static files into dist at build time (called by `npm run build` after tsc): the
// page's own script and style (src/obs/dashboard/static/) and uPlot's browser bundle and stylesheet
// (the uplot devDependency), into dist/src/obs/dashboard/static/, where the compiled routes.js reads them.
// The node serves every asset itself: no network at run time.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const out = join(root, 'dist', 'src', 'obs', 'dashboard', 'static');
const own = join(root, 'src', 'obs', 'dashboard', 'static');
const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

mkdirSync(out, { recursive: true });
const copied = [];
for (const name of readdirSync(own)) {
  copyFileSync(join(own, name), join(out, name));
  copied.push(name);
}
for (const name of ['uPlot.iife.min.js', 'uPlot.min.css']) {
  copyFileSync(join(uplotDir, name), join(out, name));
  copied.push(name);
}
if (process.argv.includes('--verbose')) console.log(`dashboard assets -> ${out}: ${copied.join(', ')}`);
