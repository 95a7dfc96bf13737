// Times as members read them: in China Standard Time, whatever the phone's zone.

const dayFormat = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });
const timeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
});

/** `2026/11/26`, or nothing for no time. */
export function day(at: string | null | undefined): string {
  return at ? dayFormat.format(new Date(at)) : "";
}

/** `11/26 08:00`. */
export function moment(at: string | null | undefined): string {
  return at ? timeFormat.format(new Date(at)) : "";
}
