//! A real S3-compatible object store for the jobs' files: s3s-fs (crates.io, built once by
//! `./dev.sh test` into the tools cache and named by `THUMBNAIL_S3S_FS`), on 127.0.0.1 and a free
//! port, over a folder of its own, with a bucket `jobs`; it checks every request's signature.
//! Stopped and deleted on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::TestDir;

pub struct S3Server {
    child: Child,
    dir: TestDir,
    port: u16,
}

const ACCESS_KEY: &str = "thumbnails-test";
const SECRET_KEY: &str = "thumbnails-test-secret";
/// The bucket the jobs' files go to.
pub const BUCKET: &str = "jobs";

impl S3Server {
    pub fn start() -> S3Server {
        let binary = std::env::var_os("THUMBNAIL_S3S_FS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!("THUMBNAIL_S3S_FS names no s3s-fs binary: run the tests with ./dev.sh test, which builds it")
            });
        let dir = TestDir::new("s3");
        std::fs::create_dir_all(dir.path().join(BUCKET)).unwrap();
        let port = crate::free_port();
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        crate::wait_for_port(port, Duration::from_secs(10), || "s3s-fs did not start".into());
        S3Server { child, dir, port }
    }

    /// The jobs' files under `prefix` in the bucket, as `--jobs-files` takes them.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// What a server needs in its environment to reach the store (object_store's AWS_* names).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// The objects stored under `prefix` in the bucket (the files on s3s-fs's disk), by key.
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        let root = self.dir.path().join(BUCKET);
        let mut found = Vec::new();
        let mut stack = vec![root.join(prefix)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    found.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        found.sort();
        found
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
