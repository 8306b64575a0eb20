//! `include/auscult_plugin.h` is what cbindgen makes of `src/abi.rs` today:
//! a C or C++ plugin written against it is written against the real ABI.
//! After a change to the ABI, regenerate it with `AUSCULT_BLESS=1 cargo
//! test -p auscult-plugin-api --test c_header` and commit it.

use std::path::Path;

#[test]
fn the_c_header_matches_the_abi() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new().with_crate(crate_dir).with_config(config).generate().expect("cbindgen reads the ABI").write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = crate_dir.join("include/auscult_plugin.h");
    if std::env::var_os("AUSCULT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not what cbindgen makes of src/abi.rs; regenerate it (AUSCULT_BLESS=1 cargo test -p auscult-plugin-api --test c_header) and commit it",
        path.display()
    );
}
