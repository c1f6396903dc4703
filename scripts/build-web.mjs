#!/usr/bin/env node
// Builds the browser app into dist/web: app.js (+ map) bundled by esbuild from web/main.ts, and
// index.html, app.css (web/styles.css), xterm.css and asciinema-player.css copied next to it.
//   node scripts/build-web.mjs           one build
//   node scripts/build-web.mjs --watch   rebuild on change
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'web');
const watch = process.argv.includes('--watch');

/** Files copied as they are: [source, name in dist/web]. */
const copies = [
  [path.join(root, 'web', 'index.html'), 'index.html'],
  [path.join(root, 'web', 'styles.css'), 'app.css'],
  [path.join(root, 'node_modules', '@xterm', 'xterm', 'css', 'xterm.css'), 'xterm.css'],
  // The player measures its character cell in document.body, outside tl-player's shadow root.
  [path.join(root, 'node_modules', 'asciinema-player', 'dist', 'bundle', 'asciinema-player.css'), 'asciinema-player.css'],
];

async function copyStatic() {
  await Promise.all(copies.map(([from, name]) => copyFile(from, path.join(outDir, name))));
}

/** @type {import('esbuild').BuildOptions} */
const options = {
  absWorkingDir: root,
  entryPoints: [path.join(root, 'web', 'main.ts')],
  outfile: path.join(outDir, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  // Lit's decorators need experimentalDecorators and useDefineForClassFields: false from here.
  tsconfig: path.join(root, 'web', 'tsconfig.json'),
  // CSS imported from TypeScript (xterm.css, asciinema-player.css for the shadow roots) arrives as a string.
  loader: { '.css': 'text' },
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [],
};

const started = performance.now();
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [...options.plugins, {
      name: 'copy-static',
      setup(build) {
        build.onEnd(async (result) => {
          if (result.errors.length === 0) await copyStatic();
          console.log(`build-web: ${result.errors.length ? 'failed' : 'rebuilt'} at ${new Date().toLocaleTimeString()}`);
        });
      },
    }],
  });
  await ctx.watch();
  console.log('build-web: watching web/ (static files are copied after each build)');
} else {
  try {
    const [result] = await Promise.all([esbuild.build(options), copyStatic()]);
    const bytes = result.metafile.outputs[path.relative(root, options.outfile).split(path.sep).join('/')]?.bytes ?? 0;
    const ms = Math.round(performance.now() - started);
    console.log(`build-web: dist/web/app.js ${(bytes / 1024).toFixed(0)} KiB in ${ms} ms`);
  } catch {
    // esbuild has printed the errors.
    process.exitCode = 1;
  }
}
