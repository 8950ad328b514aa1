// Screens: the log-in, and inside the shell the workbench, the dispute queue and a dispute.
// History routing under /console/ (the server answers any screen's address with the app).
import { createRouter, createWebHistory } from 'vue-router'
import { restore, session } from './session'
import { routeFor } from './lib/secondFactor'

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/LogIn.vue') },
    {
      path: '/',
      component: () => import('./views/Shell.vue'),
      children: [
        { path: '', name: 'workbench', component: () => import('./views/Workbench.vue') },
        { path: 'disputes', name: 'disputes', component: () => import('./views/Disputes.vue') },
        { path: 'disputes/:id', name: 'dispute', component: () => import('./views/DisputePage.vue'), props: true },
        { path: 'workers', name: 'workers', component: () => import('./views/Workers.vue') },
        { path: 'map', name: 'map', component: () => import('./views/Map.vue') },
        { path: 'residents', name: 'residents', component: () => import('./views/Residents.vue') },
        { path: 'residents/:id', name: 'resident', component: () => import('./views/ResidentPage.vue'), props: true },
        { path: 'houses', name: 'houses', component: () => import('./views/Houses.vue') },
        // 两步验证: anyone logged in; the only screen while the county requires one they lack.
        { path: 'second-factor', name: 'second-factor', component: () => import('./views/SecondFactor.vue') },
        // 管理: the county administrator's only (the server refuses anyone else too).
        {
          path: 'admin',
          name: 'admin',
          component: () => import('./views/Admin.vue'),
          beforeEnter: () => session.view?.account.role === 'county_admin' || { name: 'workbench' },
        },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

// Who may open which screen (lib/secondFactor's routeFor): the log-in without a session, only
// the set-up of a second factor while one is required and missing, the county administrator's
// screens (ADMIN_SCREENS: 管理, 地图, 两步验证) for the administrator.
router.beforeEach(async (to) => {
  if (!session.checked) await restore()
  return routeFor(String(to.name ?? ''), to.fullPath, session.view) ?? true
})
