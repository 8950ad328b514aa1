// 房屋: a house's address as people write it (the same order as the Rust `House::address`), and
// the filter of a grid's house list by what the staff member types.
import type { House } from '../generated/contract'

export function address(h: House): string {
  let s = `${h.township}${h.village}`
  if (h.street) s += h.street
  if (h.building) s += `${h.building}号楼`
  if (h.unit) s += `${h.unit}单元`
  return `${s}${h.door}号`
}

/** Houses whose address or owner contains the text (all of them without one). */
export function matching(houses: House[], text: string): House[] {
  const q = text.trim()
  if (!q) return houses
  return houses.filter((h) => [address(h), h.owner].some((v) => v?.includes(q)))
}
