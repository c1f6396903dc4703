// Types of scripts/build-web.mjs for the TypeScript that imports it (scripts/bench-page.ts).
import type { BuildOptions, Metafile } from 'esbuild';

export declare const root: string;
/** dist/web, what the server serves. */
export declare const webDir: string;
export declare function webBuildOptions(opts: { outDir: string; split?: boolean }): BuildOptions & { metafile: true };
export declare function compressDir(dir: string): Promise<void>;
export declare function buildWeb(opts: { outDir: string; split?: boolean; compress?: boolean }): Promise<Metafile>;
