//! The load-test harness (issue 3). Until it lands, this binary only says so, and
//! `cargo run --release --example apply_latency` in the root package measures
//! apply → admin-visible latency across two nodes.

fn main() {
    eprintln!("gonghui-loadtest: the scenarios are not built yet (see issue 3); try `cargo run --release --example apply_latency`");
    std::process::exit(2);
}
