// Generated from src-tauri/src/contract.rs (the app's commands). Do not edit: scripts/contract
import type { JsonValue, Collection, Conflict, HistoryEntry, Resident, ResidentSummary, House, Visit, ResidentQuery, DisputeView, NewAction, Place, IdentityView, LockState, EnrolHint, NewDispute, NewVisit, Quarantined, InboxItem, Workbench, SyncReport, SyncStatus } from './contract'

export interface Commands {
  lock_state: { args: {  }; result: LockState }
  enrol_hint: { args: {  }; result: EnrolHint }
  identity: { args: {  }; result: IdentityView | null }
  enrol: { args: { server: string; code: string; deviceName: string }; result: IdentityView }
  set_pin: { args: { pin: string }; result: null }
  unlock: { args: { pin: string }; result: null }
  lock: { args: {  }; result: null }
  touch: { args: {  }; result: null }
  workbench: { args: {  }; result: Workbench }
  list_residents: { args: { query: ResidentQuery }; result: Array<ResidentSummary> }
  get_resident: { args: { id: string }; result: Resident }
  create_resident: { args: { resident: Resident }; result: null }
  update_resident: { args: { id: string; fields: { [key in string]: JsonValue } }; result: null }
  archive_resident: { args: { id: string; reason: string; on: string }; result: null }
  move_resident: { args: { id: string; house: string | null }; result: null }
  list_houses: { args: {  }; result: Array<House> }
  get_house: { args: { id: string }; result: House }
  create_house: { args: { house: House }; result: null }
  update_house: { args: { id: string; fields: { [key in string]: JsonValue } }; result: null }
  record_visit: { args: { visit: NewVisit }; result: string }
  list_visits: { args: { sinceMs: number }; result: Array<Visit> }
  report_dispute: { args: { dispute: NewDispute }; result: string }
  list_disputes: { args: { openOnly: boolean }; result: Array<DisputeView> }
  get_dispute: { args: { id: string }; result: DisputeView }
  add_dispute_action: { args: { dispute: string; action: NewAction }; result: null }
  list_places: { args: {  }; result: Array<Place> }
  list_inbox: { args: {  }; result: Array<InboxItem> }
  mark_inbox_read: { args: { dispute: string }; result: null }
  sync_now: { args: {  }; result: SyncReport }
  sync_status: { args: {  }; result: SyncStatus }
  list_conflicts: { args: {  }; result: Array<Conflict> }
  settle_conflict: { args: { conflict: Conflict; value: JsonValue }; result: null }
  list_quarantine: { args: {  }; result: Array<Quarantined> }
  discard_quarantined: { args: { id: number }; result: null }
  reenter_quarantined: { args: { id: number; fields: { [key in string]: JsonValue } }; result: null }
  history: { args: { collection: Collection; id: string }; result: Array<HistoryEntry> }
  add_photo: { args: { bytes: Array<number>; mime: string }; result: string }
  get_photo: { args: { hash: string }; result: ArrayBuffer }
}
