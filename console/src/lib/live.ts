// The staff's live stream (GET /v1/events, server-sent events named by kind) as a composable:
// the browser's EventSource reconnects by itself, with the session cookie.
import { onBeforeUnmount, ref } from 'vue'
import { ACTION_KINDS, type DisputeEvent } from '../generated/contract'

const KINDS = [...ACTION_KINDS, 'overdue']

export function useLiveEvents(onEvent: (e: DisputeEvent) => void) {
  const connected = ref(false)
  const source = new EventSource('/v1/events')
  source.onopen = () => (connected.value = true)
  source.onerror = () => (connected.value = false)
  for (const kind of KINDS) {
    source.addEventListener(kind, (m) => {
      try {
        onEvent(JSON.parse((m as MessageEvent<string>).data) as DisputeEvent)
      } catch {
        // Not an event of this version: ignored.
      }
    })
  }
  // The server asks the stream to reconnect (a fresh authentication) at the end of its life.
  source.addEventListener('reconnect', () => {
    connected.value = false
  })
  onBeforeUnmount(() => source.close())
  return { connected }
}
