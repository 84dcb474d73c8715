// Formatting shared by the SDK's messages.

/**
 * Formats an 18-decimal base-currency value for people: 1234500000000000000000n -> "1,234.5".
 * @param maxDecimals Decimals kept (truncated), 18 for the exact value.
 */
export function formatWad(value: bigint, maxDecimals = 18): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = (abs / 10n ** 18n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = ((abs % 10n ** 18n) / 10n ** BigInt(18 - maxDecimals))
    .toString()
    .padStart(maxDecimals, "0")
    .replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""}`;
}
