// Component tests: the five clears, the dispute report form, the resident form's checks.
import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { defineComponent, h, ref } from 'vue'
import FiveClearsForm from '../src/components/FiveClearsForm.vue'
import DisputeReportForm from '../src/components/DisputeReportForm.vue'
import ResidentForm from '../src/components/ResidentForm.vue'
import { makeI18n } from '../src/i18n'
import { vant } from '../src/vant'
import { mockBackend } from '../src/mock'
import { api } from '../src/api'
import { fromResident } from '../src/lib/residentForm'
import type { FiveClears } from '../src/types'

const plugins = () => [makeI18n('zh-CN'), vant]
const tid = (id: string) => `[data-testid="${id}"]`

describe('FiveClearsForm', () => {
  it('starts all fine and emits the record_visit payload as the worker marks items', async () => {
    const w = mount(FiveClearsForm, { global: { plugins: plugins() } })
    const last = () => w.emitted('update:modelValue')?.at(-1)?.[0] as FiveClears
    expect(last()).toEqual({
      household: { status: 'fine' },
      population: { status: 'fine' },
      hazards: { status: 'fine' },
      needs: { status: 'fine' },
      attitude: { status: 'fine' },
    })
    expect(w.text()).toContain('家庭情况清')
    expect(w.text()).toContain('思想状况清')

    await w.get(tid('clear-household-attention')).trigger('click')
    // A note is needed for "needs attention".
    expect((w.vm as unknown as { validate: () => boolean }).validate()).toBe(false)
    await flushPromises()
    expect(w.text()).toContain('请说明需关注的情况')

    await w.get(`textarea${tid('clear-household-note')}`).setValue('  独居老人，子女在外务工 ')
    await w.get(tid('clear-hazards-attention')).trigger('click')
    await w.get(`textarea${tid('clear-hazards-note')}`).setValue('院墙有裂缝')
    await flushPromises()
    expect(last()).toEqual({
      household: { status: 'attention', note: '独居老人，子女在外务工' },
      population: { status: 'fine' },
      hazards: { status: 'attention', note: '院墙有裂缝' },
      needs: { status: 'fine' },
      attitude: { status: 'fine' },
    })
    expect((w.vm as unknown as { validate: () => boolean }).validate()).toBe(true)
    expect((w.vm as unknown as { attentionNotes: () => string[] }).attentionNotes()).toEqual(['院墙有裂缝', '独居老人，子女在外务工'])

    // Back to fine: the note is dropped from the payload.
    await w.get(tid('clear-household-fine')).trigger('click')
    await flushPromises()
    expect(last().household).toEqual({ status: 'fine' })
  })
})

describe('DisputeReportForm', () => {
  beforeEach(() => mockBackend.reset({ ready: true }))

  it('checks required fields, then reports in one tap with the prefill and typed parties', async () => {
    const w = mount(DisputeReportForm, {
      props: { prefill: { place: '许家湖镇东官庄村中心街12号', description: '院墙滴水', parties: [{ name: '张三' }] } },
      global: { plugins: plugins() },
    })
    expect((w.get(`input${tid('dispute-place')}`).element as HTMLInputElement).value).toBe('许家湖镇东官庄村中心街12号')

    await w.get(tid('dispute-submit')).trigger('click')
    await flushPromises()
    expect(w.get(tid('dispute-category-error')).text()).toBe('请选择事件类别')
    expect(w.emitted('reported')).toBeUndefined()

    await w.get(tid('dispute-category-neighbour')).trigger('click')
    await w.get(tid('dispute-class-coordination')).trigger('click')
    await w.get(`input${tid('dispute-party-name')}`).setValue('李四')
    await w.get(tid('discovered-30')).trigger('click')
    await w.get(tid('dispute-submit')).trigger('click')
    await flushPromises()
    await flushPromises()

    const [[id, delay]] = w.emitted('reported') as [string, number][]
    expect(delay).toBeGreaterThanOrEqual(29)
    expect(delay).toBeLessThanOrEqual(30)
    const d = await api.getDispute(id)
    expect(d.dispute).toMatchObject({ class: 'coordination', category: 'neighbour', place: '许家湖镇东官庄村中心街12号', description: '院墙滴水' })
    expect(d.dispute.parties.map((p) => p.name)).toEqual(['张三', '李四'])
  })

  it('refuses a discovery time in the future', async () => {
    const w = mount(DisputeReportForm, { global: { plugins: plugins() } })
    await w.get(tid('dispute-category-family')).trigger('click')
    await w.get(`input${tid('dispute-place')}`).setValue('村口')
    await w.get(`textarea${tid('dispute-description')}`).setValue('争吵')
    await w.get(`input${tid('dispute-discovered')}`).setValue('2999-01-01 08:00')
    await w.get(tid('dispute-submit')).trigger('click')
    await flushPromises()
    expect(w.text()).toContain('发现时间不能晚于现在')
    expect(w.emitted('reported')).toBeUndefined()
  })
})

describe('ResidentForm', () => {
  it('shows Chinese messages inline, offers filling from the ID number, and shows server errors by field', async () => {
    const Host = defineComponent({
      setup() {
        const values = ref(fromResident({ name: '王五', sex: 'female', birth_date: '1990-01-01', categories: [] }))
        const serverErrors = ref<Record<string, string>>({ phone: '手机号码“13800000000”已被占用' })
        const form = ref<{ validate: () => boolean } | null>(null)
        return { values, serverErrors, form }
      },
      render() {
        return h(ResidentForm, {
          ref: 'form',
          modelValue: this.values,
          'onUpdate:modelValue': (v: typeof this.values) => (this.values = v),
          serverErrors: this.serverErrors,
          onClearServerError: (f: string) => delete this.serverErrors[f],
        })
      },
    })
    const w = mount(Host, { global: { plugins: plugins() } })
    expect(w.get(tid('field-phone-error')).text()).toBe('手机号码“13800000000”已被占用')

    await w.get(`input${tid('field-id-number')}`).setValue('110105194912310021')
    await w.get(`input${tid('field-id-number')}`).trigger('blur')
    expect(w.get(tid('field-id-number-error')).text()).toBe('身份证号码校验位应为X，当前为1，请核对')

    await w.get(`input${tid('field-id-number')}`).setValue('11010519491231002X')
    await flushPromises()
    expect((w.vm as unknown as { form: { validate: () => boolean } }).form.validate()).toBe(false)
    await flushPromises()
    expect(w.get(tid('field-birth-date-error')).text()).toBe('出生日期与身份证号码中的出生日期（1949-12-31）不一致')

    await w.get(tid('fill-from-id')).trigger('click')
    await flushPromises()
    const vals = (w.vm as unknown as { values: { birth_date: string; sex: string } }).values
    expect(vals.birth_date).toBe('1949-12-31')
    expect(vals.sex).toBe('female')
    expect(w.find(tid('field-birth-date-error')).exists()).toBe(false)

    await w.get(`input${tid('field-phone')}`).setValue('1381234')
    await flushPromises()
    expect(w.get(tid('field-phone-error')).text()).toBe('手机号码应为1开头的11位数字')
  })
})

describe('SyncCard', () => {
  it('shows a first download cut half way, with its figures and that it will continue', async () => {
    const { syncState } = await import('../src/syncStore')
    const SyncCard = (await import('../src/components/SyncCard.vue')).default
    syncState.status = {
      running: false,
      pending: 0,
      last_error: { code: 'stalled', message: '网络无响应 30 秒，下次同步从断点继续' },
      download: { grids_done: 0, grids_total: 1, bytes_done: 81_920, bytes_total: 163_840, records: 12 },
    }
    const w = mount(SyncCard, { global: { plugins: plugins() } })
    await flushPromises()
    const figures = w.get(tid('sync-download-figures')).text()
    expect(figures).toContain('网格 0/1')
    expect(figures).toContain('80 KB / 160 KB')
    expect(figures).toContain('12 条记录')
    expect(w.get(tid('sync-download')).text()).toContain('下次同步从断点继续')
    expect(w.find('.van-progress__pivot').text()).toBe('50%')
    // A stalled link reads as a network problem, not as a refusal.
    expect(w.get(tid('sync-error')).text()).toContain('网络不通')

    // Once the download is complete, the row goes.
    syncState.status = { running: false, pending: 0 }
    await flushPromises()
    expect(w.find(tid('sync-download')).exists()).toBe(false)
  })
})
