// Where a member is when the phone will not say (no permission, no GPS, a desktop): a
// place they type, matched against the province's cities (the seed is Guangdong's), or
// coordinates typed as "纬度,经度". No geocoding service is called.

/** Guangdong's prefecture-level cities and their centres (WGS-84). */
const CITIES: [string, number, number][] = [
  ["广州", 23.129, 113.264],
  ["深圳", 22.543, 114.058],
  ["珠海", 22.271, 113.577],
  ["汕头", 23.354, 116.682],
  ["佛山", 23.022, 113.122],
  ["韶关", 24.81, 113.597],
  ["湛江", 21.271, 110.359],
  ["肇庆", 23.047, 112.465],
  ["江门", 22.579, 113.082],
  ["茂名", 21.663, 110.925],
  ["惠州", 23.112, 114.416],
  ["梅州", 24.288, 116.122],
  ["汕尾", 22.786, 115.375],
  ["河源", 23.744, 114.701],
  ["阳江", 21.858, 111.983],
  ["清远", 23.682, 113.056],
  ["东莞", 23.021, 113.752],
  ["中山", 22.517, 113.393],
  ["潮州", 23.657, 116.623],
  ["揭阳", 23.55, 116.373],
  ["云浮", 22.915, 112.044],
];

/** The point a typed place names, or null. */
export function placeOf(typed: string): { lat: number; lng: number; name: string } | null {
  const text = typed.trim();
  const coords = /^(-?\d{1,2}(?:\.\d+)?)\s*[,，]\s*(-?\d{1,3}(?:\.\d+)?)$/.exec(text);
  if (coords) {
    const [lat, lng] = [Number(coords[1]), Number(coords[2])];
    return Math.abs(lat) <= 90 && Math.abs(lng) <= 180 ? { lat, lng, name: `${lat}, ${lng}` } : null;
  }
  const city = CITIES.find(([name]) => text.includes(name) || (text.length >= 2 && name.startsWith(text.replace(/市$/, ""))));
  return city ? { name: `${city[0]}市`, lat: city[1], lng: city[2] } : null;
}

/** Where the phone says it is, within `timeoutMs`; rejects when it will not say. */
export function locate(timeoutMs = 8000): Promise<{ lat: number; lng: number }> {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error("此浏览器不支持定位"));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lng: p.coords.longitude }),
      (e) => reject(new Error(e.code === e.PERMISSION_DENIED ? "未允许定位" : "定位失败")),
      { timeout: timeoutMs, maximumAge: 60_000 },
    );
  });
}
