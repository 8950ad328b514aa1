// The staff's live stream (GET /v1/events, server-sent events named by kind) as a composable:
// the browser's EventSource reconnects by itself, with the session cookie. When it gives up (the
// server refused the reconnect: the session ended), the session is asked again, which sends a
// person whose session ended to the log-in. Events missed while away are not replayed: the
// caller is told (`onGap`) to read its figures again.
import { onBeforeUnmount, ref } from 'vue'
import { ACTION_KINDS, type DisputeEvent } from '../generated/contract'
import { api } from '../api'

const KINDS = [...ACTION_KINDS, 'overdue']

export function useLiveEvents(onEvent: (e: DisputeEvent) => void, onGap: () => void) {
  const connected = ref(false)
  let source: EventSource | null = null
  let retry: ReturnType<typeof setTimeout> | null = null
  let stopped = false

  function open() {
    source = new EventSource('/v1/events')
    source.onopen = () => {
      if (!connected.value) onGap()
      connected.value = true
    }
    source.onerror = () => {
      connected.value = false
      if (source?.readyState === EventSource.CLOSED && !stopped) {
        // Refused, not just cut: is the session still there? (A 401 here logs the page out.)
        api.session().then(
          () => (retry = setTimeout(open, 5_000)),
          () => {},
        )
      }
    }
    for (const kind of KINDS) {
      source.addEventListener(kind, (m) => {
        try {
          onEvent(JSON.parse((m as MessageEvent<string>).data) as DisputeEvent)
        } catch {
          // Not an event of this version: ignored.
        }
      })
    }
    // The server dropped events for this stream (it fell behind): read the figures again.
    source.addEventListener('lagged', () => onGap())
    // The server asks the stream to reconnect (a fresh authentication) at the end of its life.
    source.addEventListener('reconnect', () => (connected.value = false))
  }

  open()
  onBeforeUnmount(() => {
    stopped = true
    if (retry) clearTimeout(retry)
    source?.close()
  })
  return { connected }
}
