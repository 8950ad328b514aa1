// vue-i18n set-up: Chinese first, English second; the choice is kept in localStorage.
// Vant's own texts (dialog buttons, list "loading") follow the same choice.

import { createI18n } from 'vue-i18n'
import { Locale as VantLocale } from 'vant'
import vantZh from 'vant/es/locale/lang/zh-CN'
import vantEn from 'vant/es/locale/lang/en-US'
import zhCN from './zh-CN'
import en from './en'

export type AppLocale = 'zh-CN' | 'en'
export const LOCALES: AppLocale[] = ['zh-CN', 'en']
const STORAGE_KEY = 'gk.locale'

export const messages = { 'zh-CN': zhCN, en }

function storedLocale(): AppLocale {
  try {
    const v = localStorage.getItem(STORAGE_KEY)
    if (v === 'en' || v === 'zh-CN') return v
  } catch {
    // No storage (private mode): Chinese.
  }
  return 'zh-CN'
}

export function makeI18n(locale: AppLocale = storedLocale()) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'zh-CN',
    messages,
    missingWarn: false,
    fallbackWarn: false,
  })
}

export const i18n = makeI18n()

function applyVant(locale: AppLocale) {
  if (locale === 'en') VantLocale.use('en-US', vantEn)
  else VantLocale.use('zh-CN', vantZh)
}
applyVant(i18n.global.locale.value as AppLocale)

export function setLocale(locale: AppLocale) {
  i18n.global.locale.value = locale
  applyVant(locale)
  try {
    localStorage.setItem(STORAGE_KEY, locale)
  } catch {
    // Not persisted; still switched for this session.
  }
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}

export const currentLocale = () => i18n.global.locale.value as AppLocale
