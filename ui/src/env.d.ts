/// <reference types="vite/client" />

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

interface Window {
  /** Present only inside the Tauri webview. */
  __TAURI_INTERNALS__?: unknown
}

interface ImportMetaEnv {
  /** `1` keeps the in-memory mock backend in a production build (browser demo only). */
  readonly VITE_MOCK?: string
}
