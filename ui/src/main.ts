import { createApp } from 'vue'
import App from './App.vue'
import { makeRouter } from './router'
import { i18n, currentLocale } from './i18n'
import { vant } from './vant'
import './styles.css'

document.documentElement.lang = currentLocale()

createApp(App).use(i18n).use(vant).use(makeRouter()).mount('#app')
