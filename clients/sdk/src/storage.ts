/** Where the last seq of each topic is kept, so a new client (after a page reload) resumes where the last one stopped. */
export interface SeqStorage {
  get(key: string): string | null | undefined;
  set(key: string, value: string): void;
  remove(key: string): void;
}

/** Keeps seqs for the life of the page or process (the default). */
export function memoryStorage(): SeqStorage {
  const map = new Map<string, string>();
  return {
    get: (key) => map.get(key),
    set: (key, value) => void map.set(key, value),
    remove: (key) => void map.delete(key),
  };
}

/** The browser's `localStorage` (or any Web Storage). */
export function webStorage(storage: {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}): SeqStorage {
  return {
    get: (key) => storage.getItem(key),
    set: (key, value) => storage.setItem(key, value),
    remove: (key) => storage.removeItem(key),
  };
}

/** A mini-program's storage: `wxStorage(wx)`, or `wxStorage(uni)` in uni-app. */
export function wxStorage(api: {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: string): void;
  removeStorageSync(key: string): void;
}): SeqStorage {
  return {
    get: (key) => {
      const value = api.getStorageSync(key);
      return typeof value === "string" && value !== "" ? value : null;
    },
    set: (key, value) => api.setStorageSync(key, value),
    remove: (key) => api.removeStorageSync(key),
  };
}
