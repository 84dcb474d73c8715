// Amounts for people, on ethers' formatUnits: raw token units and 18-decimal base-currency values (WAD).
import { formatUnits } from "ethers";

/**
 * Formats `raw` units of a token with `decimals` decimals for people, thousands grouped and at most
 * `maxDecimals` decimals kept (truncated, never rounded up): formatAmount(1234500000n, 6) -> "1,234.5".
 */
export function formatAmount(raw: bigint, decimals: number, maxDecimals = decimals): string {
  const [whole, fraction = ""] = formatUnits(raw, decimals).split(".");
  const kept = fraction.slice(0, maxDecimals).replace(/0+$/, "");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return kept ? `${grouped}.${kept}` : grouped;
}

/**
 * Formats an 18-decimal base-currency value for people: 1234500000000000000000n -> "1,234.5".
 * @param maxDecimals Decimals kept (truncated), 18 for the exact value.
 */
export function formatWad(value: bigint, maxDecimals = 18): string {
  return formatAmount(value, 18, maxDecimals);
}
