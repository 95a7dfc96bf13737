// GB 11643 citizen ID numbers, checked on the phone before sending, so a mistyped digit
// is caught where it was typed (the server checks again).

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECKS = "10X98765432";

/** Why `value` is not an ID number, or null when it is one. */
export function idNumberProblem(value: string): string | null {
  const id = value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return "身份证号应为 18 位（最后一位可为 X）";
  const born = id.slice(6, 14);
  const date = new Date(`${born.slice(0, 4)}-${born.slice(4, 6)}-${born.slice(6, 8)}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10).replaceAll("-", "") !== born || date > new Date()) {
    return "身份证号中的出生日期不正确";
  }
  const sum = [...id.slice(0, 17)].reduce((acc, d, i) => acc + Number(d) * WEIGHTS[i], 0);
  return CHECKS[sum % 11] === id[17] ? null : "身份证号校验位不正确，请检查是否输错";
}
