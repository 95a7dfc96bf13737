// What an activity's `config` and `tallies` hold, by kind (PROTOCOL.md, Activities): the
// server sends them as free JSON, and the pages read them through these shapes.

export interface Choice {
  id: string;
  text: string;
}
export interface Question {
  id: string;
  type: "single" | "multiple" | "text";
  text: string;
  options?: Choice[];
}
export interface Prize {
  id: string;
  name: string;
  quantity: number;
}

export interface Config {
  options?: Choice[];
  max_choices?: number;
  questions?: Question[];
  capacity?: number;
  fields?: { id: string; label: string; required: boolean }[];
  prizes?: Prize[];
  win_rate?: number;
  pass_mark?: number;
  prize?: Prize;
}

export interface Tallies {
  options?: Record<string, number>;
  questions?: Record<string, Record<string, number>>;
  seats_taken?: number;
  prizes?: Record<string, { name: string; quantity: number; given: number }>;
  passed?: number;
}

/** The kinds as members call them. */
export const KIND_NAMES = { vote: "投票", questionnaire: "问卷", signup: "报名", lottery: "抽奖", quiz: "答题" } as const;

/** Where an activity stands for a member now. */
export function phase(activity: { status: string; starts_at: string; ends_at: string }, now = Date.now()): { text: string; open: boolean } {
  if (activity.status === "closed") return { text: "已结束", open: false };
  if (now < Date.parse(activity.starts_at)) return { text: "未开始", open: false };
  if (now >= Date.parse(activity.ends_at)) return { text: "已截止", open: false };
  return { text: "进行中", open: true };
}
