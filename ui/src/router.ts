// Screens and the guard that keeps them behind enrolment and the PIN.

import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { loadSession, session } from './session'

declare module 'vue-router' {
  interface RouteMeta {
    /** A bottom-tab screen (the tab bar shows). */
    tab?: string
    /** Reachable before enrolment / unlock. */
    gate?: 'enrol' | 'pin' | 'unlock'
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/enrol', name: 'enrol', component: () => import('./views/EnrolView.vue'), meta: { gate: 'enrol' } },
  { path: '/pin', name: 'set-pin', component: () => import('./views/SetPinView.vue'), meta: { gate: 'pin' } },
  { path: '/unlock', name: 'unlock', component: () => import('./views/UnlockView.vue'), meta: { gate: 'unlock' } },

  { path: '/', name: 'workbench', component: () => import('./views/WorkbenchView.vue'), meta: { tab: 'workbench' } },
  { path: '/residents', name: 'residents', component: () => import('./views/ResidentsView.vue'), meta: { tab: 'residents' } },
  { path: '/residents/new', name: 'resident-new', component: () => import('./views/ResidentEditView.vue') },
  { path: '/residents/:id', name: 'resident', component: () => import('./views/ResidentDetailView.vue') },
  { path: '/residents/:id/edit', name: 'resident-edit', component: () => import('./views/ResidentEditView.vue') },
  { path: '/houses', name: 'houses', component: () => import('./views/HousesView.vue'), meta: { tab: 'houses' } },
  { path: '/houses/new', name: 'house-new', component: () => import('./views/HouseEditView.vue') },
  { path: '/houses/:id', name: 'house', component: () => import('./views/HouseDetailView.vue') },
  { path: '/houses/:id/edit', name: 'house-edit', component: () => import('./views/HouseEditView.vue') },
  { path: '/houses/:id/visit', name: 'visit', component: () => import('./views/VisitView.vue') },
  { path: '/disputes', name: 'disputes', component: () => import('./views/DisputesView.vue'), meta: { tab: 'disputes' } },
  { path: '/disputes/:id', name: 'dispute', component: () => import('./views/DisputeDetailView.vue') },
  { path: '/report', name: 'report', component: () => import('./views/ReportView.vue') },
  { path: '/me', name: 'me', component: () => import('./views/MeView.vue'), meta: { tab: 'me' } },
  { path: '/me/sync', name: 'sync', component: () => import('./views/SyncView.vue') },
  { path: '/me/settings', name: 'settings', component: () => import('./views/SettingsView.vue') },
  // Re-entering a refused edit: residents and houses in their own forms, the rest generically.
  { path: '/quarantine/:qid/resident', name: 'reenter-resident', component: () => import('./views/ResidentEditView.vue') },
  { path: '/quarantine/:qid/house', name: 'reenter-house', component: () => import('./views/HouseEditView.vue') },
  { path: '/quarantine/:qid', name: 'reenter', component: () => import('./views/QuarantineEditView.vue') },
  { path: '/:rest(.*)*', redirect: '/' },
]

export function makeRouter() {
  const router = createRouter({
    // Hash history: Tauri serves ui/dist as files, with no server to answer deep links.
    history: createWebHashHistory(),
    routes,
    scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
  })

  router.beforeEach(async (to) => {
    if (!session.loaded) {
      try {
        await loadSession()
      } catch {
        // The backend did not answer: show enrolment, which reports errors on submit.
        return to.meta.gate === 'enrol' ? true : { name: 'enrol' }
      }
    }
    const gate = to.meta.gate
    if (session.needsPin) return gate === 'pin' ? true : { name: 'set-pin' }
    if (!session.enrolled) return gate === 'enrol' ? true : { name: 'enrol' }
    if (session.locked) return gate === 'unlock' ? true : { name: 'unlock', query: { to: to.fullPath } }
    if (gate) return { name: 'workbench' }
    return true
  })

  return router
}
