import 'server-only';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
const UNESCAPES: Record<string, string> = { amp: '&', lt: '<', gt: '>' };

/**
 * Slack message formatting: `&`, `<` and `>` are control characters in `text` (`<!channel>`,
 * `<@U123>`, `<https://…|label>`) and must be sent as `&amp;`, `&lt;` and `&gt;`.
 */
export function escapeSlackText(value: unknown): string {
  return String(value).replace(/[&<>]/g, (c) => ESCAPES[c] ?? c);
}

/**
 * A line of webhook `text` whose interpolated values are escaped (escapeSlackText): names typed by
 * ops and client ids issued by hospitals must not mention a channel or forge a link. The literal
 * parts are ours. Join finished lines with plain strings: interpolating one would escape it twice.
 */
export function slackText(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce((out, literal, i) => out + literal + (i < values.length ? escapeSlackText(values[i]) : ''), '');
}

/** The text as the channel shows it (Settings → Notifications lists what was sent). */
export function unescapeSlackText(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (whole, name: string) => UNESCAPES[name] ?? whole);
}
