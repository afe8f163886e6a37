import type { Page } from 'playwright-core';

/**
 * Reads what an ECharts chart of a page draws, from its instance (the module the page itself loaded from
 * /vendor/echarts.mjs: same URL, same module, same instance registry). The import is evaluated as a string so that the
 * test runner's transform never rewrites it.
 */
type Box = { getBoundingClientRect(): { left: number; top: number } };
type ChartWindow = {
  document: { querySelector(selector: string): Box | null };
  __echarts: {
    getInstanceByDom(el: Box | null): {
      getOption(): Record<string, unknown>;
      convertToPixel(finder: { seriesIndex: number }, value: number[]): number[];
    };
  };
};

async function loadEcharts(page: Page): Promise<void> {
  await page.evaluate("import('/vendor/echarts.mjs').then((m) => { window.__echarts = m; })");
}

/** The series of the chart in `[data-testid=<testid>]`: name and data (one number per category). */
export async function chartSeries(page: Page, testid: string): Promise<Array<{ name: string; data: number[] }>> {
  await loadEcharts(page);
  return page.evaluate((id) => {
    const g = globalThis as unknown as ChartWindow;
    const chart = g.__echarts.getInstanceByDom(g.document.querySelector(`[data-testid="${id}"]`));
    const option = chart.getOption() as { series: Array<{ name: string; data: number[] }> };
    return option.series.map((s) => ({ name: s.name, data: s.data }));
  }, testid);
}

/** Page coordinates of the centre of the heatmap cell at column `x` and row `y` (category names of the axes). */
export async function heatmapCellPoint(
  page: Page,
  testid: string,
  x: string,
  y: string,
): Promise<{ x: number; y: number }> {
  await loadEcharts(page);
  return page.evaluate(
    ({ id, cx, cy }) => {
      const g = globalThis as unknown as ChartWindow;
      const box = g.document.querySelector(`[data-testid="${id}"]`) as Box;
      const chart = g.__echarts.getInstanceByDom(box);
      const option = chart.getOption() as { xAxis: Array<{ data: string[] }>; yAxis: Array<{ data: string[] }> };
      const xi = option.xAxis[0]?.data.indexOf(cx) ?? -1;
      const yi = option.yAxis[0]?.data.indexOf(cy) ?? -1;
      if (xi < 0 || yi < 0) throw new Error(`no heatmap cell ${cy} → ${cx}`);
      const [px, py] = chart.convertToPixel({ seriesIndex: 0 }, [xi, yi]) as [number, number];
      const r = box.getBoundingClientRect();
      return { x: r.left + px, y: r.top + py };
    },
    { id: testid, cx: x, cy: y },
  );
}
