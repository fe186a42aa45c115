//! The README's table of API keys is the one `kafka-mtls-filter apis` prints from the code's own table
//! (`protocol::api`), so it cannot drift: regenerate it with
//! `cargo run --bin kafka-mtls-filter -- apis` and paste it between the README's markers.

use kafka_mtls_filter::protocol::api_table;

#[test]
fn readme_api_table_is_the_generated_one() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let Some(in_readme) = api_table::in_readme(&readme) else {
        panic!("README.md lacks the API table markers `{}` ... `{}`", api_table::BEGIN_MARKER, api_table::END_MARKER);
    };
    let generated = api_table::markdown();
    assert!(
        in_readme == generated,
        "README.md's API table differs from `kafka-mtls-filter apis`; regenerate it:\n{generated}"
    );
}
