// The Vant components the app uses, registered once, each with only its own styles (the full
// Vant stylesheet is four times larger). Add a component here before using it in a template.

import type { App } from 'vue'
import {
  ActionSheet,
  Badge,
  Button,
  Cell,
  CellGroup,
  Empty,
  Field,
  Icon,
  List,
  Loading,
  NavBar,
  NoticeBar,
  Popup,
  Progress,
  PullRefresh,
  Search,
  Switch,
  Tab,
  Tabbar,
  TabbarItem,
  Tabs,
  Tag,
} from 'vant'

import 'vant/es/action-sheet/style/index.mjs'
import 'vant/es/badge/style/index.mjs'
import 'vant/es/button/style/index.mjs'
import 'vant/es/cell/style/index.mjs'
import 'vant/es/cell-group/style/index.mjs'
import 'vant/es/empty/style/index.mjs'
import 'vant/es/field/style/index.mjs'
import 'vant/es/icon/style/index.mjs'
import 'vant/es/list/style/index.mjs'
import 'vant/es/loading/style/index.mjs'
import 'vant/es/nav-bar/style/index.mjs'
import 'vant/es/notice-bar/style/index.mjs'
import 'vant/es/progress/style/index.mjs'
import 'vant/es/popup/style/index.mjs'
import 'vant/es/pull-refresh/style/index.mjs'
import 'vant/es/search/style/index.mjs'
import 'vant/es/switch/style/index.mjs'
import 'vant/es/tab/style/index.mjs'
import 'vant/es/tabbar/style/index.mjs'
import 'vant/es/tabbar-item/style/index.mjs'
import 'vant/es/tabs/style/index.mjs'
import 'vant/es/tag/style/index.mjs'
// Function-call components: showToast, showConfirmDialog.
import 'vant/es/toast/style/index.mjs'
import 'vant/es/dialog/style/index.mjs'

const components = [
  ActionSheet,
  Badge,
  Button,
  Cell,
  CellGroup,
  Empty,
  Field,
  Icon,
  List,
  Loading,
  NavBar,
  NoticeBar,
  Popup,
  Progress,
  PullRefresh,
  Search,
  Switch,
  Tab,
  Tabbar,
  TabbarItem,
  Tabs,
  Tag,
]

export const vant = {
  install(app: App) {
    for (const c of components) app.use(c)
  },
}
