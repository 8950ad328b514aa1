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
        { path: 'residents', name: 'residents', component: () => import('./views/Residents.vue') },
        { path: 'residents/:id', name: 'resident', component: () => import('./views/ResidentPage.vue'), props: true },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  if (!session.checked) await restore()
  if (to.name !== 'login' && !session.view) return { name: 'login', query: { next: to.fullPath } }
  if (to.name === 'login' && session.view) return { name: 'workbench' }
})
