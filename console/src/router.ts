// Screens: the log-in, and inside the shell the workbench, the dispute queue and a dispute.
// History routing under /console/ (the server answers any screen's address with the app).
import { createRouter, createWebHistory } from 'vue-router'
import { restore, session } from './session'

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

/** The screens of the county administrator, who handles no dispute and keeps the system. */
const ADMIN_SCREENS = new Set(['admin', 'map'])

router.beforeEach(async (to) => {
  if (!session.checked) await restore()
  if (to.name !== 'login' && !session.view) return { name: 'login', query: { next: to.fullPath } }
  const admin = session.view?.account.role === 'county_admin'
  if (to.name === 'login' && session.view) return { name: admin ? 'admin' : 'workbench' }
  if (admin && to.name !== 'login' && !ADMIN_SCREENS.has(String(to.name))) return { name: 'admin' }
})
