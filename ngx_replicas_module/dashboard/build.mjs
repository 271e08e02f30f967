// Builds the dashboard into OUTDIR (auto/lib.sh rp_build_dashboard runs
// it as: node build.mjs OUTDIR MODULES, MODULES the pinned node_modules):
// one bundle, one stylesheet, index.html. No network at run time: every
// library is in the bundle.
import { createRequire } from 'node:module';
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [out, modules] = process.argv.slice(2);
if (!out || !modules) {
    console.error('usage: node build.mjs OUTDIR NODE_MODULES');
    process.exit(2);
}
const { build } = createRequire(join(modules, 'x.js'))('esbuild');
mkdirSync(out, { recursive: true });
await build({
    entryPoints: [join(here, 'src/main.js')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    outfile: join(out, 'app.js'),
    nodePaths: [modules],
    logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) {
    cpSync(join(here, 'src', f), join(out, f));
}
