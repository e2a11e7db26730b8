//! ferrotune's gRPC API: the generated Katib-compatible `api.v1.beta1` and native
//! `ferrotune.v1` services and the one
//! module ([`convert`]) where protobuf messages become domain types and back.

/// Katib's `api.v1.beta1` package (see `proto/katib/api.proto`).
#[allow(clippy::all, missing_docs)]
pub mod katib {
    tonic::include_proto!("api.v1.beta1");
}

/// ferrotune's native `ferrotune.v1` package (see `proto/ferrotune/v1/ferrotune.proto`).
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("ferrotune.v1");
}

pub mod convert;
pub mod native;

/// Every compiled .proto file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ferrotune_descriptor.bin"));
