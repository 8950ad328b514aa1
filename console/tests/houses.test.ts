import { describe, expect, it } from 'vitest'
import type { House } from '../src/generated/contract'
import { address, matching } from '../src/lib/houses'

const house = (over: Partial<House>): House => ({
  id: 'h1',
  township: '高庄镇',
  village: '东坡村',
  door: '12',
  owner: '孙玉兰',
  structure: '砖混',
  use: '自住',
  ...over,
})

describe('houses', () => {
  it('writes an address as people do: village, street, building, unit, door', () => {
    expect(address(house({}))).toBe('高庄镇东坡村12号')
    expect(address(house({ street: '南街', building: '3', unit: '2', door: '301' }))).toBe('高庄镇东坡村南街3号楼2单元301号')
  })

  it('narrows a grid list by address or owner', () => {
    const list = [house({}), house({ id: 'h2', door: '15', owner: '李长河', use: '出租' })]
    expect(matching(list, '').length).toBe(2)
    expect(matching(list, '李长河').map((h) => h.id)).toEqual(['h2'])
    expect(matching(list, '12号').map((h) => h.id)).toEqual(['h1'])
    expect(matching(list, '无此')).toEqual([])
  })
})
