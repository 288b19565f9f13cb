/** Conversions of column values as the two drivers hand them over. */

export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

export function toNullableDate(value: Date | string | null): Date | null {
  return value === null ? null : toDate(value);
}

/** The one row an INSERT/UPDATE … RETURNING must produce. */
export function onlyRow<Row>(rows: Row[], statement: string): Row {
  const [row] = rows;
  if (!row) throw new Error(`${statement} returned no row`);
  return row;
}
