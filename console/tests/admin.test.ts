import { describe, expect, it } from 'vitest'
import { READ_KINDS, fileSize, problemMessage, rosterFormat } from '../src/lib/admin'
import zh from '../src/i18n/zh-CN'
import en from '../src/i18n/en'

describe('the administration screen', () => {
  it('names every kind of audited read and every place kind in both languages', () => {
    for (const msgs of [zh, en]) {
      for (const k of READ_KINDS) expect(msgs.admin.readKind[k], k).toBeTruthy()
      for (const k of ['county', 'township', 'village', 'grid', 'department'] as const) expect(msgs.admin.kind[k], k).toBeTruthy()
    }
  })

  it('tells a roster file by its name', () => {
    expect(rosterFormat('东关社区第一网格.CSV')).toBe('csv')
    expect(rosterFormat('roster.xlsx')).toBe('xlsx')
    expect(rosterFormat('roster.xls')).toBeNull()
    expect(rosterFormat('roster')).toBeNull()
    expect(fileSize(512)).toBe('512 B')
    expect(fileSize(3 * 1024 + 400)).toBe('3.4 KB')
    expect(fileSize(8 * 1024 * 1024)).toBe('8.0 MB')
  })

  it("words a rejected row in the reader's language", () => {
    const p = { message: '身份证号校验位错误', message_en: 'wrong check digit' }
    expect(problemMessage(p, 'zh-CN')).toBe('身份证号校验位错误')
    expect(problemMessage(p, 'en')).toBe('wrong check digit')
    expect(problemMessage({ message: '只有中文', message_en: '' }, 'en')).toBe('只有中文')
  })

})
