// `sqlx::migrate!` embeds the files in `migrations/`; rebuild when one is added or removed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
