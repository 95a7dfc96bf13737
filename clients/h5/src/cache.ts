// A phone's browser may drop a page it put to sleep (WeChat's does). What the member's
// topics said is kept in localStorage with the seq it reflects, one record per topic, so a
// page opened again shows it at once and resumes the topic from that seq (only what it
// missed comes back) instead of starting over from a snapshot.
import type { SeqStorage } from "@gonghui/client";

interface Kept<T> {
  seq: number;
  state: T;
}

/** The topic states of one user, and the seq storage the realtime client resumes from. */
export class TopicCache {
  constructor(private readonly prefix: string) {}

  private key(topic: string): string {
    return `${this.prefix}${topic}`;
  }

  /** What `topic` said at its last seq, if kept. */
  get<T>(topic: string): Kept<T> | null {
    try {
      const raw = localStorage.getItem(this.key(topic));
      return raw ? (JSON.parse(raw) as Kept<T>) : null;
    } catch {
      return null;
    }
  }

  /** Keeps `state` as what `topic` says at `seq`: the two are written together, never apart. */
  put<T>(topic: string, seq: number, state: T): void {
    try {
      localStorage.setItem(this.key(topic), JSON.stringify({ seq, state }));
    } catch {
      // Storage full or refused: the next page takes a snapshot instead.
    }
  }

  /** Forgets every topic of this user (logging out). */
  clear(): void {
    for (const key of Object.keys(localStorage)) if (key.startsWith(this.prefix)) localStorage.removeItem(key);
  }

  /**
   * The seqs the realtime client resumes from: a topic's seq only where its state is kept
   * with it. The client's own writes are ignored; `put` writes the seq with the state.
   */
  seqs(): SeqStorage {
    return {
      get: (key) => {
        const kept = this.get(key.slice(this.prefix.length));
        return kept ? String(kept.seq) : null;
      },
      set: () => undefined,
      remove: (key) => localStorage.removeItem(key),
    };
  }
}
