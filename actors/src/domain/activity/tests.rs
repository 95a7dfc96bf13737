//! Each activity kind's rules, on specs and answers.

use super::*;

#[test]
fn a_vote_takes_known_options_up_to_its_limit() {
    let config = Config::parse("vote", &json!({"options": [{"id": "a", "text": "甲"}, {"id": "b", "text": "乙"}], "max_choices": 1})).unwrap();
    assert!(Answer::parse(&config, &json!({"choices": ["a"]})).is_ok());
    assert!(Answer::parse(&config, &json!({"choices": ["a", "b"]})).is_err());
    assert!(Answer::parse(&config, &json!({"choices": ["z"]}))
        .unwrap_err()
        .reason
        .contains("no option"));
    assert!(Answer::parse(&config, &json!({})).is_err());
}

#[test]
fn a_quiz_scores_and_hides_its_answers_from_members() {
    let config = Config::parse(
        "quiz",
        &json!({"questions": [
            {"id": "q1", "text": "1+1", "options": [{"id": "a", "text": "2"}, {"id": "b", "text": "3"}], "answer": ["a"]},
            {"id": "q2", "text": "2+2", "options": [{"id": "a", "text": "4"}, {"id": "b", "text": "5"}], "answer": ["a"]}
        ], "pass_mark": 2}),
    )
    .unwrap();
    let answer = Answer::parse(&config, &json!({"answers": {"q1": "a", "q2": ["b"]}})).unwrap();
    assert_eq!((answer.score, answer.passed), (Some(1), Some(false)));
    assert!(!config.public().to_string().contains("answer"));
}

#[test]
fn configs_that_do_not_fit_their_kind_are_refused() {
    assert!(Config::parse(
        "vote",
        &json!({"options": [{"id": "a", "text": "x"}], "max_choices": 1})
    )
    .is_err());
    assert!(Config::parse("signup", &json!({"capacity": 0})).is_err());
    assert!(Config::parse(
        "lottery",
        &json!({"prizes": [{"id": "p", "name": "x", "quantity": 1}], "win_rate": 2})
    )
    .is_err());
    assert!(Config::parse(
        "vote",
        &json!({"options": [], "max_choices": 1, "extra": 1})
    )
    .is_err());
    assert!(Config::parse("raffle", &json!({})).is_err());
}
