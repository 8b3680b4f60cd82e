//! The real server binary, started for a test on 127.0.0.1 with a free port, stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// Where its logs go (stderr).
    pub log: PathBuf,
    /// Its own data folder (the job store), removed when it stops; `None` when the test gave one.
    data: Option<crate::TestDir>,
}

impl Server {
    /// Starts `binary` with `args` (plus `--listen 127.0.0.1:0`, and a data folder of its own
    /// unless `args` give `--data-dir`) and waits until it listens.
    pub fn start(binary: &Path, args: &[&str]) -> Server {
        Server::start_with(binary, args, &[], None)
    }

    /// As [`Server::start`], with more environment variables and in the folder `cwd`.
    pub fn start_with(binary: &Path, args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> Server {
        let data = (!args.contains(&"--data-dir")).then(|| crate::TestDir::new("server"));
        let mut server = Server::spawn(binary, args, env, cwd, data.as_ref().map(crate::TestDir::path));
        server.data = data;
        server
    }

    fn spawn(binary: &Path, args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>, data: Option<&Path>) -> Server {
        let logs = crate::root().join("target/test-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join(format!("server-{}-{}.log", std::process::id(), crate::unique()));
        let data_args: Vec<std::ffi::OsString> = match data {
            Some(dir) => vec!["--data-dir".into(), dir.into()],
            None => Vec::new(),
        };
        let mut command = Command::new(binary);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(data_args)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}; see {}", log.display()))
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server {
            child,
            base,
            log,
            data: None,
        }
    }

    /// Kills the process at once (SIGKILL: nothing of it runs after) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process now, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Peak resident memory of the server process so far, in KiB (Linux).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        proc_status_kib(self.pid(), field).unwrap_or_else(|| panic!("{field} in /proc/{}/status", self.pid()))
    }

    /// Its `/healthz` answer.
    pub async fn health(&self) -> serde_json::Value {
        let body = reqwest::get(self.url("/healthz")).await.unwrap().text().await.unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics")).await.unwrap().text().await.unwrap()
    }

    /// The value of the unlabelled metric `name` (`thumbnail_jobs_running`, ...).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in metrics:\n{text}"))
    }

    /// Is the process still running?
    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill(); // (then its data folder goes)
    }
}

/// A `kB` field of /proc/<pid>/status ("VmRSS:", "VmHWM:"), if the process is there.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits until `check` holds (asked every 50 ms), failing the test after `limit`.
pub async fn eventually(what: &str, limit: std::time::Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A request body of `size` zero bytes, streamed (never all in memory, sent chunked).
pub fn zeros(size: usize) -> reqwest::Body {
    const CHUNK: usize = 256 * 1024;
    let chunks =
        (0..size.div_ceil(CHUNK)).map(move |i| Ok::<_, std::io::Error>(vec![0u8; CHUNK.min(size - i * CHUNK)]));
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}
