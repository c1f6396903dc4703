#!/usr/bin/env node
// Builds the browser app into dist/web:
// - app.js, the entry (web/main.ts): the header and the lab list, what the first page needs;
// - chunks/*-HASH.js: the other pages, the lab page (xterm.js, the guide's Markdown) and the
//   recording player (asciinema-player), each loaded by import() when shown (web/routes.ts,
//   web/pages/tl-home-page.ts, web/components/tl-walkthrough-dialog.ts); hashed names, so the
//   server lets browsers keep them for good (server/http/web-files.ts);
// - index.html, with a modulepreload link for each chunk app.js imports (so the browser fetches
//   them with app.js, not after parsing it), and app.css (web/styles.css) copied;
// - a .br and a .gz beside every .js, .css and .html, compressed once here so that serving them
//   costs the server no CPU (it picks the one the browser accepts).
// The metafile (what each output holds) goes to dist/web-meta.json, outside what is served.
//   node scripts/build-web.mjs           one build
//   node scripts/build-web.mjs --watch   rebuild on change
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const webDir = path.join(root, 'dist', 'web');

/** Files copied as they are: [source, name in the output folder]. */
const copies = [
  [path.join(root, 'web', 'styles.css'), 'app.css'],
];
const ENTRY_SCRIPT = '<script type="module" src="/app.js"></script>';

/** What gets a precompressed .br and .gz (source maps and licence texts are not fetched by pages). */
const COMPRESSED = /\.(js|css|html)$/;

/**
 * esbuild's options. `split: false` makes one app.js holding everything (import() inlined), as
 * before code splitting: the page-weight benchmark builds it to compare.
 * @param {{ outDir: string, split?: boolean }} opts
 * @returns {import('esbuild').BuildOptions & { metafile: true }}
 */
export function webBuildOptions({ outDir, split = true }) {
  return {
    absWorkingDir: root,
    entryPoints: { app: path.join(root, 'web', 'main.ts') },
    outdir: outDir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    splitting: split,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    // Lit's decorators need experimentalDecorators and useDefineForClassFields: false from here.
    tsconfig: path.join(root, 'web', 'tsconfig.json'),
    // CSS imported from TypeScript (xterm.css, asciinema-player.css) arrives as a string: the
    // components adopt it in their shadow roots and, once loaded, in the document.
    loader: { '.css': 'text' },
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  };
}

/**
 * The page, with `<link rel="modulepreload">` for the chunks app.js imports itself (esbuild puts
 * code that later chunks share, such as Lit, in chunks of its own).
 */
async function writeIndex(outDir, metafile) {
  const outputs = Object.entries(metafile.outputs);
  const entry = outputs.find(([name]) => path.resolve(root, name) === path.join(outDir, 'app.js'))?.[1];
  const preloads = (entry?.imports ?? []).filter((i) => i.kind === 'import-statement')
    .map((i) => `<link rel="modulepreload" href="/${path.relative(outDir, path.resolve(root, i.path)).split(path.sep).join('/')}">`);
  const html = await readFile(path.join(root, 'web', 'index.html'), 'utf8');
  if (!html.includes(ENTRY_SCRIPT)) throw new Error(`web/index.html lacks ${ENTRY_SCRIPT}`);
  await writeFile(path.join(outDir, 'index.html'), html.replace(ENTRY_SCRIPT, [...preloads, ENTRY_SCRIPT].join('\n  ')));
}

async function copyStatic(outDir, metafile) {
  await Promise.all([...copies.map(([from, name]) => copyFile(from, path.join(outDir, name))), writeIndex(outDir, metafile)]);
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** Writes NAME.br and NAME.gz beside every compressible file under `dir` (after the file itself, so never older). */
export async function compressDir(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && COMPRESSED.test(e.name)).map((e) => path.join(e.parentPath, e.name));
  await Promise.all(files.map(async (file) => {
    const data = await readFile(file);
    const [br, gz] = await Promise.all([
      brotli(data, { params: {
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      } }),
      gzip(data, { level: zlib.constants.Z_BEST_COMPRESSION }),
    ]);
    await Promise.all([writeFile(`${file}.br`, br), writeFile(`${file}.gz`, gz)]);
  }));
}

/** How long a previous build's chunks stay beside a new build's (see carryOverChunks). */
const OLD_CHUNKS_KEPT_MS = 60 * 60 * 1000;

/**
 * Links the previous build's chunks into the new one, unless older than OLD_CHUNKS_KEPT_MS: a
 * page loaded before the rebuild still imports chunks by their old names (a lab page is open for
 * an hour). A link keeps the file's time, so each one ages out.
 */
async function carryOverChunks(from, to) {
  const entries = await readdir(path.join(from, 'chunks'), { withFileTypes: true }).catch(() => []);
  const fresh = Date.now() - OLD_CHUNKS_KEPT_MS;
  await mkdir(path.join(to, 'chunks'), { recursive: true });
  await Promise.all(entries.filter((e) => e.isFile()).map(async (e) => {
    const old = path.join(from, 'chunks', e.name);
    if ((await stat(old)).mtimeMs < fresh) return;
    // EEXIST: the new build has the same chunk. Any other failure only costs open pages a reload.
    await link(old, path.join(to, 'chunks', e.name)).catch(() => {});
  }));
}

/** The metafile with its output paths under `to` instead of `from` (both relative to root). */
function relocate(metafile, from, to) {
  const fix = (p) => (p.startsWith(`${from}/`) ? `${to}${p.slice(from.length)}` : p);
  const outputs = Object.fromEntries(Object.entries(metafile.outputs).map(([name, o]) => [
    fix(name), { ...o, imports: o.imports.map((i) => ({ ...i, path: fix(i.path) })) },
  ]));
  return { ...metafile, outputs };
}

/**
 * A build into `outDir`: bundle, static files, compressed copies (unless `compress: false`).
 * Built beside it and swapped in by renaming, so the server never serves half a build (tests and
 * people share dist/web and rebuild it while pages load).
 * @param {{ outDir: string, split?: boolean, compress?: boolean }} opts
 * @returns {Promise<import('esbuild').Metafile>}
 */
export async function buildWeb(opts) {
  const staging = `${opts.outDir}.new-${process.pid}`;
  const retired = `${opts.outDir}.old-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const result = await esbuild.build(webBuildOptions({ outDir: staging, split: opts.split }));
    await copyStatic(staging, result.metafile);
    if (opts.compress !== false) await compressDir(staging);
    await carryOverChunks(opts.outDir, staging);
    await rename(opts.outDir, retired).catch((err) => { if (err.code !== 'ENOENT') throw err; });
    await rename(staging, opts.outDir);
    const rel = (dir) => path.relative(root, dir).split(path.sep).join('/');
    return relocate(result.metafile, rel(staging), rel(opts.outDir));
  } finally {
    await Promise.all([rm(staging, { recursive: true, force: true }), rm(retired, { recursive: true, force: true })]);
  }
}

const metaPath = path.join(root, 'dist', 'web-meta.json');

/** "app.js 15 KiB (+ 31 KiB it imports), 20 chunks in all 880 KiB" from the metafile. */
function describe(metafile) {
  const js = Object.entries(metafile.outputs).filter(([name]) => name.endsWith('.js'));
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  const [entryName, entry] = js.find(([name]) => path.basename(name) === 'app.js') ?? ['', { bytes: 0, imports: [] }];
  const direct = entry.imports.filter((i) => i.kind === 'import-statement')
    .reduce((sum, i) => sum + (metafile.outputs[i.path]?.bytes ?? 0), 0);
  const all = js.reduce((sum, [, o]) => sum + o.bytes, 0);
  return `${path.basename(entryName)} ${kib(entry.bytes)} (+ ${kib(direct)} of chunks it imports), ${js.length - 1} chunks, ${kib(all)} of JS in all`;
}

async function watchMode() {
  await rm(webDir, { recursive: true, force: true });
  await mkdir(webDir, { recursive: true });
  const ctx = await esbuild.context({
    ...webBuildOptions({ outDir: webDir }),
    plugins: [{
      name: 'copy-static',
      setup(build) {
        build.onEnd(async (result) => {
          if (result.errors.length === 0) {
            await copyStatic(webDir, result.metafile);
            // Stale .br/.gz would be served in place of the new files (the server checks their
            // times, but a browser that raced the rebuild should not have to reload twice).
            await compressDir(webDir);
            await writeFile(metaPath, JSON.stringify(result.metafile));
          }
          console.log(`build-web: ${result.errors.length ? 'failed' : 'rebuilt'} at ${new Date().toLocaleTimeString()}`);
        });
      },
    }],
  });
  await ctx.watch();
  console.log('build-web: watching web/ (static files are copied and compressed after each build)');
}

async function once() {
  const started = performance.now();
  try {
    const metafile = await buildWeb({ outDir: webDir });
    await writeFile(metaPath, JSON.stringify(metafile));
    console.log(`build-web: dist/web ${describe(metafile)} in ${Math.round(performance.now() - started)} ms`);
  } catch (err) {
    // esbuild has printed its own errors.
    if (!err?.errors) console.error(err);
    process.exitCode = 1;
  }
}

// Run as a script (not imported by the benchmark).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  if (process.argv.includes('--watch')) await watchMode();
  else await once();
}
