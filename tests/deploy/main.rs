//! The files in `deploy/`, checked without Docker or Kubernetes: every manifest parses, its
//! probes are routes the real server answers with 200, its ports agree with the server's and the
//! image's, everything runs as non-root, and the configuration it gives the server loads.

mod compose;
mod dockerfile;
mod files;
mod kubernetes;
mod monitoring;
