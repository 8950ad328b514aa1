// vue-i18n: Chinese first, English second; the choice is kept in localStorage. Element Plus's
// own texts (pagination, pickers) follow the same choice through App.vue's config provider.
import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'

export type ConsoleLocale = 'zh-CN' | 'en'
const STORAGE_KEY = 'gk.console.locale'

export const messages = { 'zh-CN': zhCN, en }

function storedLocale(): ConsoleLocale {
  try {
    const v = localStorage.getItem(STORAGE_KEY)
    if (v === 'en' || v === 'zh-CN') return v
  } catch {
    // No storage: Chinese.
  }
  return 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: 'zh-CN',
  messages,
})

export function setLocale(l: ConsoleLocale) {
  i18n.global.locale.value = l
  document.documentElement.lang = l
  try {
    localStorage.setItem(STORAGE_KEY, l)
  } catch {
    // Not kept: fine.
  }
}
