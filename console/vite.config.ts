import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// The county server serves console/dist at /console/ from files built into its binary
// (county-server/src/api/console.rs); `npm run dev` proxies the API to a server on :8080.
export default defineConfig({
  plugins: [vue()],
  base: '/console/',
  clearScreen: false,
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  server: {
    port: 5174,
    strictPort: true,
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Desk browsers of county offices: current Chromium-based browsers (360, QQ, Edge) and Firefox.
    target: 'es2021',
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        // Element Plus and ECharts change less often than the screens: their own cached files.
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
          if (id.includes('node_modules/element-plus')) return 'element-plus'
          if (id.includes('node_modules')) return 'vendor'
        },
      },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.test.ts'],
  },
})
