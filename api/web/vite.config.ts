import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// Built by `npm run build:web` into api/web/dist, which the API serves (use-web-app.ts):
// index.html plus content-hashed files under /assets/.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // everything is a file under /assets: the Content-Security-Policy allows no data: scripts
    assetsInlineLimit: 0,
    target: 'es2022',
  },
  server: { proxy: { '/graphql': 'http://127.0.0.1:4000', '/thumbs': 'http://127.0.0.1:4000' } },
});
