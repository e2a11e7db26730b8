//! Compiles the .proto files with protox (a protobuf compiler in Rust, so no `protoc` is
//! needed) and generates the tonic services; the descriptor set serves gRPC reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // At run time, not `env!`: a build script compiled for one checkout may be reused for
    // another that shares the target directory.
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        root.join("katib/api.proto"),
        root.join("ferrotune/v1/ferrotune.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("ferrotune_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
