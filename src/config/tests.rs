//! Settings resolved from files, environment and defaults.

use super::*;

#[test]
fn console_nodes_are_bare_base_urls() {
    assert_eq!(
        console_nodes(Some(" https://a.example.cn/, http://10.0.0.2:8080 ")).unwrap(),
        ["https://a.example.cn", "http://10.0.0.2:8080"]
    );
    for bad in [
        "ftp://a",
        "https://a/path",
        "https://a'; script-src *",
        "a.example.cn",
    ] {
        assert!(console_nodes(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn flags_and_variables_win_over_the_file() {
    let file: Settings =
        toml::from_str("database_url = \"postgres://file/db\"\nsession_queue = 32\nsms = \"log\"")
            .unwrap();
    let given = Settings {
        session_queue: Some(64),
        data_key: Some("11".repeat(32)),
        ..Settings::default()
    };
    let merged = given.or(file);
    assert_eq!(merged.database_url.as_deref(), Some("postgres://file/db"));
    assert_eq!(merged.session_queue, Some(64));
    let config = Config::resolve(merged, "127.0.0.1:0".into()).unwrap();
    assert_eq!(config.ws.queue, 64);
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    assert!(toml::from_str::<Settings>("databse_url = \"x\"").is_err());
    let bad_sms = Settings {
        sms: Some("carrier-pigeon".into()),
        ..Settings::default()
    };
    assert!(Config::resolve(bad_sms, String::new()).is_err());
    let http_without_hook = Settings {
        sms: Some("http".into()),
        ..Settings::default()
    };
    assert!(Config::resolve(http_without_hook, String::new()).is_err());
    let short_key = Settings {
        data_key: Some("abcd".into()),
        ..Settings::default()
    };
    assert!(Config::resolve(short_key, String::new()).is_err());
    let production_without_key = Settings {
        env: Some("production".into()),
        ..Settings::default()
    };
    let refused = Config::resolve(production_without_key, String::new())
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("needs GONGHUI_DATA_KEY"),
        "{refused}"
    );
}

#[test]
fn the_log_format_is_text_or_json_from_a_file_too() {
    let file: Settings = toml::from_str("log_format = \"json\"").unwrap();
    assert_eq!(
        Settings::default().or(file).log_format,
        Some(LogFormat::Json)
    );
    assert!(toml::from_str::<Settings>("log_format = \"yaml\"").is_err());
}
