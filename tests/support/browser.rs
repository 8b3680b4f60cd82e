//! Debian's headless chromium driven through chromedriver (WebDriver), with a fresh profile per
//! browser. Everything it starts is killed on drop, including after a failed assertion.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let logs = crate::root().join("target/test-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join(format!("chromedriver-{}-{}.log", std::process::id(), crate::unique()));
        // Its own process group, so that drop can end chromium with it.
        let mut driver = Command::new("chromedriver")
            .args(["--port=0", &format!("--log-path={}", log.display())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; ./dev.sh test installs it)");
        let mut stdout = BufReader::new(driver.stdout.take().unwrap());
        let mut port = None;
        let mut line = String::new();
        while port.is_none() && stdout.read_line(&mut line).unwrap() > 0 {
            port = line
                .trim()
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|p| p.trim_end_matches('.').parse::<u16>().ok());
            line.clear();
        }
        let port = port.unwrap_or_else(|| panic!("chromedriver did not start; see {}", log.display()));
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));

        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1024,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("a chromium session: {e}; see {}", log.display()));
        // Long enough for a benchmark's loop of thumbnails in one script.
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(600)),
                None,
                None,
            ))
            .await
            .unwrap();
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Gives the `<input type=file>` matching `css` a file from this machine.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.send_keys(&path.display().to_string()).await.unwrap();
    }

    /// Runs `body` as the body of an async function in the page and returns what it returns
    /// (JSON). A thrown error comes back as `{ "thrown": { name, code, message } }`.
    pub async fn run(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             (async (...args) => {{ {body} }})(...Array.from(arguments).slice(0, -1)).then(
               (value) => done(value === undefined ? null : value),
               (e) => done({{ thrown: {{ name: e && e.name, code: e && e.code, message: String(e && e.message || e) }} }}));"
        );
        self.client.execute_async(&script, args).await.unwrap()
    }

    /// Polls `expression` in the page until it is truthy (then returns its value) or `timeout` passes.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Value {
        let started = std::time::Instant::now();
        loop {
            let value = self
                .client
                .execute(&format!("return {expression};"), vec![])
                .await
                .unwrap();
            let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!(0) && value != json!("");
            if truthy {
                return value;
            }
            assert!(started.elapsed() < timeout, "timed out waiting for {expression}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident memory of every process of this browser (chromium's browser, renderer, GPU
    /// and utility processes), summed, in KiB. Linux only.
    pub fn peak_rss_kib(&self) -> u64 {
        descendants(self.driver.id())
            .into_iter()
            .filter_map(|pid| crate::server::proc_status_kib(pid, "VmHWM:"))
            .sum()
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

/// Every process below `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// JS for `run`: from here, `window.started` counts the Web Workers the page starts (an engine
/// restarted) and `window.posted` the jobs posted to them.
pub const COUNT_ENGINE_STARTS_AND_JOBS: &str = "
    window.started = 0; window.posted = 0;
    const RealWorker = Worker;
    window.Worker = class extends RealWorker { constructor(...a) { super(...a); window.started++; } };
    const post = RealWorker.prototype.postMessage;
    RealWorker.prototype.postMessage = function (m) { if (m && m.kind) window.posted++; return post.call(this, m); };";

/// Serves `html` at `/` of a new origin (127.0.0.1, another port) that sends no COOP/COEP, as a
/// site embedding the thumbnailer would; returns its URL. Runs until the tokio runtime ends.
pub async fn serve_page_on_another_origin(html: String) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/")
}
