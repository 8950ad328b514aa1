import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// Tauri loads ui/dist (frontendDist: ../ui/dist) from its own origin, so asset paths are relative.
export default defineConfig({
  plugins: [vue()],
  base: './',
  clearScreen: false,
  define: {
    // vue-i18n: Composition API only, no devtools in production.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  // src-tauri/tauri.conf.json has devUrl http://localhost:5173.
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK (Linux) and Android System WebView; both are recent enough for ES2021.
    target: 'es2021',
    chunkSizeWarningLimit: 800,
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.test.ts'],
    // Vant's per-component style entries import .css: let Vite handle them, not Node.
    server: { deps: { inline: ['vant'] } },
  },
})
