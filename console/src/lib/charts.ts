// ECharts, only the parts the console draws (canvas renderer: also in headless Chromium): bars,
// lines (the workbench's trend), pies and the map.
import { use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import { BarChart, LineChart, MapChart, PieChart } from 'echarts/charts'
import {
  GridComponent,
  LegendComponent,
  TooltipComponent,
  TitleComponent,
  VisualMapComponent,
} from 'echarts/components'

use([
  CanvasRenderer,
  BarChart,
  LineChart,
  PieChart,
  MapChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  TitleComponent,
  VisualMapComponent,
])

/** Where disputes were settled: one colour per level, the open ones grey. */
export const SETTLED_COLOURS = ['#2f9e44', '#74b816', '#f08c00', '#e03131', '#adb5bd']
