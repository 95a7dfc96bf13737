//! Activities as admins define them and answers as members give them, each checked
//! whole against its kind, so the store only counts and records.
//!
//! One file over 500 lines on purpose: the five kinds share one spec and one answer
//! type, and a rule of one kind is read beside the others' (tests in `activity/tests.rs`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use gonghui_protocol::dto::ActivityForm;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{BoundedText, Invalid};

/// An option of a vote or a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub id: String,
    pub text: String,
}

/// A questionnaire's or a quiz's question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    /// `single`, `multiple` or `text` (quizzes: `single` or `multiple`).
    #[serde(rename = "type", default = "single")]
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub options: Vec<Choice>,
    /// A quiz's right option ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Vec<String>>,
}

fn single() -> String {
    "single".into()
}

/// A signup form's field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
}

/// A prize and how many there are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prize {
    pub id: String,
    pub name: String,
    pub quantity: i32,
}

/// What each kind is made of; stored as JSON and read back with [`Config::parse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Config {
    Vote {
        options: Vec<Choice>,
        max_choices: usize,
    },
    Questionnaire {
        questions: Vec<Question>,
    },
    Signup {
        capacity: i32,
        #[serde(default)]
        fields: Vec<Field>,
    },
    Lottery {
        prizes: Vec<Prize>,
        /// The chance of each draw to win while prizes last, 0–1.
        win_rate: f64,
    },
    Quiz {
        questions: Vec<Question>,
        /// Right answers needed to pass.
        pass_mark: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prize: Option<Prize>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteConfig {
    options: Vec<Choice>,
    max_choices: usize,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionnaireConfig {
    questions: Vec<Question>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupConfig {
    capacity: i32,
    #[serde(default)]
    fields: Vec<Field>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LotteryConfig {
    prizes: Vec<Prize>,
    win_rate: f64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuizConfig {
    questions: Vec<Question>,
    pass_mark: usize,
    #[serde(default)]
    prize: Option<Prize>,
}

/// Ids: 1–32 visible characters, distinct within their list.
fn ids<'a>(field: &'static str, list: impl Iterator<Item = &'a str>) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for id in list {
        if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new(
                field,
                format!("id {id:?} must be 1 to 32 visible ASCII characters"),
            ));
        }
        if !seen.insert(id) {
            return Err(Invalid::new(field, format!("id {id:?} appears twice")));
        }
    }
    Ok(())
}

fn texts<'a>(field: &'static str, list: impl Iterator<Item = &'a str>) -> Result<(), Invalid> {
    for text in list {
        BoundedText::parse(field, text, 200)?;
    }
    Ok(())
}

fn count(
    field: &'static str,
    n: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), Invalid> {
    if range.contains(&n) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("needs {} to {} entries", range.start(), range.end()),
        ))
    }
}

fn choices(field: &'static str, options: &[Choice]) -> Result<(), Invalid> {
    count(field, options.len(), 2..=50)?;
    ids(field, options.iter().map(|o| o.id.as_str()))?;
    texts(field, options.iter().map(|o| o.text.as_str()))
}

fn questions(list: &[Question], quiz: bool) -> Result<(), Invalid> {
    count("questions", list.len(), 1..=100)?;
    ids("questions", list.iter().map(|q| q.id.as_str()))?;
    for q in list {
        BoundedText::parse("questions", &q.text, 500)?;
        match (q.kind.as_str(), quiz) {
            ("single" | "multiple", _) => choices("questions", &q.options)?,
            ("text", false) if q.options.is_empty() => {}
            _ => {
                return Err(Invalid::new(
                    "questions",
                    format!(
                        "question {:?}: type must be single, multiple{}",
                        q.id,
                        if quiz {
                            ""
                        } else {
                            " or text (without options)"
                        }
                    ),
                ))
            }
        }
        match (&q.answer, quiz) {
            (None, false) => {}
            (Some(right), true) => {
                let known = right.iter().all(|a| q.options.iter().any(|o| &o.id == a));
                let shape = if q.kind == "single" {
                    right.len() == 1
                } else {
                    !right.is_empty()
                };
                if !known || !shape {
                    return Err(Invalid::new(
                        "questions",
                        format!(
                            "question {:?}: the answer must name its right options",
                            q.id
                        ),
                    ));
                }
            }
            (None, true) => {
                return Err(Invalid::new(
                    "questions",
                    format!("question {:?} needs an answer", q.id),
                ))
            }
            (Some(_), false) => {
                return Err(Invalid::new(
                    "questions",
                    "only a quiz's questions have answers",
                ))
            }
        }
    }
    Ok(())
}

fn prizes(field: &'static str, list: &[Prize]) -> Result<(), Invalid> {
    ids(field, list.iter().map(|p| p.id.as_str()))?;
    texts(field, list.iter().map(|p| p.name.as_str()))?;
    if list.iter().any(|p| !(1..=100_000).contains(&p.quantity)) {
        return Err(Invalid::new(field, "a prize's quantity is 1 to 100000"));
    }
    Ok(())
}

impl Config {
    /// Reads `config` as the kind says and checks it.
    pub fn parse(kind: &str, config: &Value) -> Result<Self, Invalid> {
        let shape =
            |e: serde_json::Error| Invalid::new("config", format!("does not fit a {kind}: {e}"));
        let config = match kind {
            "vote" => {
                let c: VoteConfig = serde_json::from_value(config.clone()).map_err(shape)?;
                choices("config", &c.options)?;
                if !(1..=c.options.len()).contains(&c.max_choices) {
                    return Err(Invalid::new(
                        "config",
                        "max_choices must be 1 to the number of options",
                    ));
                }
                Config::Vote {
                    options: c.options,
                    max_choices: c.max_choices,
                }
            }
            "questionnaire" => {
                let c: QuestionnaireConfig =
                    serde_json::from_value(config.clone()).map_err(shape)?;
                questions(&c.questions, false)?;
                Config::Questionnaire {
                    questions: c.questions,
                }
            }
            "signup" => {
                let c: SignupConfig = serde_json::from_value(config.clone()).map_err(shape)?;
                if !(1..=1_000_000).contains(&c.capacity) {
                    return Err(Invalid::new("config", "capacity must be 1 to 1000000"));
                }
                count("config", c.fields.len(), 0..=20)?;
                ids("config", c.fields.iter().map(|f| f.id.as_str()))?;
                texts("config", c.fields.iter().map(|f| f.label.as_str()))?;
                Config::Signup {
                    capacity: c.capacity,
                    fields: c.fields,
                }
            }
            "lottery" => {
                let c: LotteryConfig = serde_json::from_value(config.clone()).map_err(shape)?;
                count("config", c.prizes.len(), 1..=20)?;
                prizes("config", &c.prizes)?;
                if !(0.0..=1.0).contains(&c.win_rate) {
                    return Err(Invalid::new("config", "win_rate must be between 0 and 1"));
                }
                Config::Lottery {
                    prizes: c.prizes,
                    win_rate: c.win_rate,
                }
            }
            "quiz" => {
                let c: QuizConfig = serde_json::from_value(config.clone()).map_err(shape)?;
                questions(&c.questions, true)?;
                if c.pass_mark > c.questions.len() {
                    return Err(Invalid::new(
                        "config",
                        "pass_mark is at most the number of questions",
                    ));
                }
                prizes("config", c.prize.as_slice())?;
                Config::Quiz {
                    questions: c.questions,
                    pass_mark: c.pass_mark,
                    prize: c.prize,
                }
            }
            other => {
                return Err(Invalid::new(
                    "kind",
                    format!("{other:?} is not vote, questionnaire, signup, lottery or quiz"),
                ))
            }
        };
        Ok(config)
    }

    /// The prizes to stock when the activity is published.
    pub fn prizes(&self) -> Vec<Prize> {
        match self {
            Config::Lottery { prizes, .. } => prizes.clone(),
            Config::Quiz { prize: Some(p), .. } => vec![p.clone()],
            _ => Vec::new(),
        }
    }

    /// The config as members see it: a quiz without its answers.
    pub fn public(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("plain JSON");
        if let Some(list) = value.get_mut("questions").and_then(Value::as_array_mut) {
            for q in list {
                if let Some(q) = q.as_object_mut() {
                    q.remove("answer");
                }
            }
        }
        value
    }
}

/// A checked activity definition.
#[derive(Debug, Clone)]
pub struct ActivitySpec {
    pub kind: &'static str,
    pub title: BoundedText,
    pub description: String,
    pub include_subordinates: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub results_visibility: &'static str,
    pub config: Config,
}

impl ActivitySpec {
    /// Checks a whole form.
    pub fn parse(form: &ActivityForm) -> Result<Self, Invalid> {
        let kind = ["vote", "questionnaire", "signup", "lottery", "quiz"]
            .into_iter()
            .find(|k| *k == form.kind)
            .ok_or_else(|| {
                Invalid::new(
                    "kind",
                    "must be vote, questionnaire, signup, lottery or quiz",
                )
            })?;
        if form.ends_at <= form.starts_at {
            return Err(Invalid::new("ends_at", "must be after starts_at"));
        }
        if form.description.chars().count() > 5000 {
            return Err(Invalid::new(
                "description",
                "must be at most 5000 characters",
            ));
        }
        let results_visibility = match form.results_visibility.as_deref().unwrap_or("public") {
            "public" => "public",
            "after_close" => "after_close",
            "admins" => "admins",
            _ => {
                return Err(Invalid::new(
                    "results_visibility",
                    "must be public, after_close or admins",
                ))
            }
        };
        Ok(ActivitySpec {
            kind,
            title: BoundedText::parse("title", &form.title, 100)?,
            description: match form.description.trim() {
                "" => String::new(),
                text => BoundedText::parse("description", text, 5000)?
                    .as_str()
                    .to_owned(),
            },
            include_subordinates: form.include_subordinates,
            starts_at: form.starts_at,
            ends_at: form.ends_at,
            results_visibility,
            config: Config::parse(kind, &form.config)?,
        })
    }
}

/// A checked answer, with what it scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// As stored: normalised.
    pub value: Value,
    /// A quiz's right answers.
    pub score: Option<i32>,
    pub passed: Option<bool>,
}

fn picked(field: &'static str, value: &Value, options: &[Choice]) -> Result<Vec<String>, Invalid> {
    let list: Vec<String> = match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| Invalid::new(field, "choices are option ids"))?,
        _ => return Err(Invalid::new(field, "choices are option ids")),
    };
    let distinct: BTreeSet<&String> = list.iter().collect();
    if distinct.len() != list.len() {
        return Err(Invalid::new(field, "an option is chosen twice"));
    }
    if let Some(unknown) = list.iter().find(|c| !options.iter().any(|o| &o.id == *c)) {
        return Err(Invalid::new(
            field,
            format!("there is no option {unknown:?}"),
        ));
    }
    Ok(list)
}

fn answered(questions: &[Question], answers: &Value) -> Result<BTreeMap<String, Value>, Invalid> {
    let given = answers
        .get("answers")
        .and_then(Value::as_object)
        .ok_or_else(|| Invalid::new("answers", "send {\"answers\": {question id: answer}}"))?;
    if let Some(unknown) = given
        .keys()
        .find(|k| !questions.iter().any(|q| &q.id == *k))
    {
        return Err(Invalid::new(
            "answers",
            format!("there is no question {unknown:?}"),
        ));
    }
    let mut out = BTreeMap::new();
    for q in questions {
        let a = given.get(&q.id).ok_or_else(|| {
            Invalid::new("answers", format!("question {:?} is not answered", q.id))
        })?;
        let normal = match q.kind.as_str() {
            "text" => {
                let text = a.as_str().ok_or_else(|| {
                    Invalid::new("answers", format!("question {:?} takes text", q.id))
                })?;
                json!(BoundedText::parse("answers", text, 1000)?.as_str())
            }
            kind => {
                let list = picked("answers", a, &q.options)?;
                if kind == "single" && list.len() != 1 {
                    return Err(Invalid::new(
                        "answers",
                        format!("question {:?} takes one option", q.id),
                    ));
                }
                if list.is_empty() {
                    return Err(Invalid::new(
                        "answers",
                        format!("question {:?} is not answered", q.id),
                    ));
                }
                json!(list)
            }
        };
        out.insert(q.id.clone(), normal);
    }
    Ok(out)
}

impl Answer {
    /// Checks `raw` against the activity's config.
    pub fn parse(config: &Config, raw: &Value) -> Result<Self, Invalid> {
        let plain = |value| Answer {
            value,
            score: None,
            passed: None,
        };
        match config {
            Config::Vote {
                options,
                max_choices,
            } => {
                let chosen = picked(
                    "choices",
                    raw.get("choices").unwrap_or(&Value::Null),
                    options,
                )?;
                if chosen.is_empty() || chosen.len() > *max_choices {
                    return Err(Invalid::new(
                        "choices",
                        format!("choose 1 to {max_choices}"),
                    ));
                }
                Ok(plain(json!({ "choices": chosen })))
            }
            Config::Questionnaire { questions } => {
                Ok(plain(json!({ "answers": answered(questions, raw)? })))
            }
            Config::Signup { fields, .. } => {
                let given = raw
                    .get("fields")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if let Some(unknown) = given.keys().find(|k| !fields.iter().any(|f| &f.id == *k)) {
                    return Err(Invalid::new(
                        "fields",
                        format!("there is no field {unknown:?}"),
                    ));
                }
                let mut out = BTreeMap::new();
                for f in fields {
                    match given.get(&f.id).and_then(Value::as_str).map(str::trim) {
                        Some(text) if !text.is_empty() => {
                            out.insert(
                                f.id.clone(),
                                json!(BoundedText::parse("fields", text, 200)?.as_str()),
                            );
                        }
                        _ if f.required => {
                            return Err(Invalid::new("fields", format!("{} is required", f.label)))
                        }
                        _ => {}
                    }
                }
                Ok(plain(json!({ "fields": out })))
            }
            Config::Lottery { .. } => Ok(plain(json!({}))),
            Config::Quiz {
                questions,
                pass_mark,
                ..
            } => {
                let answers = answered(questions, raw)?;
                let score = questions
                    .iter()
                    .filter(|q| {
                        let mut right = q.answer.clone().unwrap_or_default();
                        right.sort();
                        let mut given: Vec<String> =
                            serde_json::from_value(answers[&q.id].clone()).unwrap_or_default();
                        given.sort();
                        right == given
                    })
                    .count();
                Ok(Answer {
                    value: json!({ "answers": answers }),
                    score: Some(score as i32),
                    passed: Some(score >= *pass_mark),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
