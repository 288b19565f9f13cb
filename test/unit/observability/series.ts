import type { MetricValue, Registry } from 'prom-client';

export interface Sample {
  labels: Partial<Record<string, string | number>>;
  value: number;
}

/**
 * The samples of one metric as a scrape would see them (collect callbacks included). For a
 * histogram, `suffix` picks `_count`, `_sum` or `_bucket`.
 */
export async function samples(
  registry: Registry,
  name: string,
  suffix?: '_count' | '_sum' | '_bucket',
): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  // Histograms name each value (`_bucket`, `_sum`, `_count`); the type does not say so.
  const values = (await metric.get()).values as (MetricValue<string> & { metricName?: string })[];
  return values
    .filter((v) => suffix === undefined || v.metricName === `${name}${suffix}`)
    .map((v) => ({ labels: { ...v.labels }, value: v.value }));
}

/** The value of the one sample whose labels include `labels`; undefined when there is none. */
export async function valueOf(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
  suffix?: '_count' | '_sum',
): Promise<number | undefined> {
  const matching = (await samples(registry, name, suffix)).filter((s) =>
    Object.entries(labels).every(([key, value]) => String(s.labels[key]) === value),
  );
  if (matching.length > 1) throw new Error(`${matching.length} samples of ${name} match`);
  return matching[0]?.value;
}
