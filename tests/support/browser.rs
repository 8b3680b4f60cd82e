//! The three browser engines a user may run, each driven through its own WebDriver server with a
//! fresh profile: Debian's chromium (chromedriver, headless), Firefox ESR (geckodriver, headless)
//! and WebKitGTK, Safari's engine (WebKitWebDriver driving the MiniBrowser on an Xvfb display of
//! its own). `Browser::start(kind)` is the one way a test or the bench gets a browser; everything
//! it starts is killed on drop, including after a failed assertion.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// A browser engine, as the tests and the bench name it (`--browser chromium|firefox|webkit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    Chromium,
    Firefox,
    WebKit,
}

impl BrowserKind {
    pub const ALL: [BrowserKind; 3] = [BrowserKind::Chromium, BrowserKind::Firefox, BrowserKind::WebKit];

    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
            BrowserKind::WebKit => "webkit",
        }
    }

    pub fn from_name(name: &str) -> Option<BrowserKind> {
        BrowserKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// What makes an H.264, VP8 or VP9 frame (the fixtures': untagged, 8-bit 4:2:0) in this
    /// browser: its WebCodecs where that gives the decoded YUV planes (Chromium, WebKitGTK),
    /// else the wasm engine `wasm` of the page ("browser-mt" or "browser-st"): Firefox's
    /// WebCodecs hands its frames out converted to RGB with colours of its own.
    pub fn webcodecs_or(self, wasm: &'static str) -> &'static str {
        match self {
            BrowserKind::Chromium | BrowserKind::WebKit => "browser-webcodecs",
            BrowserKind::Firefox => wasm,
        }
    }

    /// The wasm engine a cross-origin-isolated page (the app's own) gets in this browser: mt where
    /// it has `SharedArrayBuffer` and shared wasm memory, st in WebKitGTK, which has neither.
    pub fn isolated_engine(self) -> &'static str {
        match self {
            BrowserKind::Chromium | BrowserKind::Firefox => "browser-mt",
            BrowserKind::WebKit => "browser-st",
        }
    }
}

/// The MiniBrowser of Debian's libwebkit2gtk-4.1-0, which WebKitWebDriver drives.
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

pub struct Browser {
    pub kind: BrowserKind,
    pub client: Client,
    driver: Child,
    /// WebKit's X display (Xvfb), killed after the driver.
    display: Option<Child>,
    _profile: tempfile::TempDir,
}

/// A program started in its own process group (so that drop ends whatever it starts with it),
/// with `what` saying which Debian package or tool gives it when it is missing.
fn spawn(command: &mut Command, what: &str, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e} (./dev.sh test installs it)"))
}

/// Reads `stdout` line by line until `found` picks a value out of a line (None at its end); the
/// rest of the output goes on to the `log` in the background, so that the program never blocks
/// on it.
fn read_until<T>(stdout: ChildStdout, log: &std::path::Path, found: impl Fn(&str) -> Option<T>) -> Option<T> {
    let mut stdout = BufReader::new(stdout);
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut line = String::new();
    let mut value = None;
    while value.is_none() && stdout.read_line(&mut line).unwrap_or(0) > 0 {
        value = found(line.trim());
        let _ = log.write_all(line.as_bytes());
        line.clear();
    }
    drain(stdout, log);
    value
}

/// Copies what a program goes on writing to its log, in the background.
fn drain(mut stdout: impl Read + Send + 'static, mut log: std::fs::File) {
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut log));
}

impl Browser {
    pub async fn start(kind: BrowserKind) -> Browser {
        let logs = crate::root().join("target/test-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join(format!(
            "{}-{}-{}.log",
            kind.name(),
            std::process::id(),
            crate::unique()
        ));
        let profile = tempfile::tempdir().unwrap();
        let mut display = None;
        let (mut driver, port, capabilities) = match kind {
            BrowserKind::Chromium => {
                let mut driver = spawn(
                    Command::new("chromedriver").args(["--port=0", &format!("--log-path={}", log.display())]),
                    "chromedriver (Debian's chromium-driver)",
                    &log,
                );
                let port = read_until(driver.stdout.take().unwrap(), &log, |line| {
                    line.strip_prefix("ChromeDriver was started successfully on port ")?
                        .trim_end_matches('.')
                        .parse::<u16>()
                        .ok()
                });
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
                (driver, port, capabilities)
            }
            BrowserKind::Firefox => {
                let mut driver = spawn(
                    Command::new("geckodriver")
                        .args(["--host", "127.0.0.1", "--port", "0", "--profile-root"])
                        .arg(profile.path())
                        .env("MOZ_HEADLESS", "1"),
                    "geckodriver (cargo install geckodriver --version =0.37.1)",
                    &log,
                );
                // "<time>\tgeckodriver\tINFO\tListening on 127.0.0.1:<port>"
                let port = read_until(driver.stdout.take().unwrap(), &log, |line| {
                    line.rsplit_once("Listening on 127.0.0.1:")?
                        .1
                        .trim()
                        .parse::<u16>()
                        .ok()
                });
                let capabilities = json!({
                    "moz:firefoxOptions": {
                        "binary": "/usr/bin/firefox-esr",
                        "args": ["-headless", "-width", "1024", "-height", "900"],
                        "prefs": {
                            // No connection to Mozilla's services from a test (the network is closed).
                            "app.update.enabled": false,
                            "browser.safebrowsing.malware.enabled": false,
                            "browser.safebrowsing.phishing.enabled": false,
                            "datareporting.policy.dataSubmissionEnabled": false,
                            "network.captive-portal-service.enabled": false,
                            "network.connectivity-service.enabled": false,
                        },
                    }
                });
                (driver, port, capabilities)
            }
            BrowserKind::WebKit => {
                // An X display of its own: Xvfb picks a free number and writes it to its stdout.
                let mut xvfb = spawn(
                    Command::new("Xvfb").args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x1024x24"]),
                    "Xvfb (Debian's xvfb)",
                    &log,
                );
                let number = read_until(xvfb.stdout.take().unwrap(), &log, |line| line.parse::<u32>().ok())
                    .unwrap_or_else(|| panic!("Xvfb did not start; see {}", log.display()));
                display = Some(xvfb);
                let port = crate::free_port();
                let mut driver = spawn(
                    Command::new("WebKitWebDriver")
                        .args([format!("--port={port}"), "--host=127.0.0.1".into()])
                        .env("DISPLAY", format!(":{number}"))
                        .env("XDG_RUNTIME_DIR", profile.path())
                        .env("HOME", profile.path()),
                    "WebKitWebDriver (Debian's webkit2gtk-driver)",
                    &log,
                );
                let stdout = driver.stdout.take().unwrap();
                drain(stdout, std::fs::OpenOptions::new().append(true).open(&log).unwrap());
                let capabilities = json!({
                    "webkitgtk:browserOptions": {
                        "binary": MINIBROWSER,
                        "args": ["--automation"],
                    }
                });
                (driver, Some(port), capabilities)
            }
        };
        let port = port.unwrap_or_else(|| panic!("the {} WebDriver did not start; see {}", kind.name(), log.display()));
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        // WebKitWebDriver listens on the port it was given a moment after it starts.
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20) && driver.try_wait().ok().flatten().is_none(),
                "the {} WebDriver does not listen on {port}; see {}",
                kind.name(),
                log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("a {} session: {e}; see {}", kind.name(), log.display()));
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
            kind,
            client,
            driver,
            display,
            _profile: profile,
        }
    }

    /// Navigates to `url` and waits for its load event: WebKitWebDriver's navigation may end
    /// before the page's module scripts have run (a file chosen then found no listener).
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.wait_for("document.readyState === 'complete'", Duration::from_secs(60))
            .await;
    }

    /// Gives the `<input type=file>` matching `css` a file from this machine.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.send_keys(&path.display().to_string()).await.unwrap();
    }

    /// Goes into the page's `index`-th frame (an iframe): what follows runs there.
    pub async fn enter_frame(&self, index: u16) {
        self.client.enter_frame(index).await.unwrap();
    }

    /// Back to the frame around the current one.
    pub async fn leave_frame(&self) {
        self.client.enter_parent_frame().await.unwrap();
    }

    /// A PNG of the browser's viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.unwrap()
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
        match self.client.execute_async(&script, args.clone()).await {
            Ok(value) => value,
            // WebKitWebDriver 2.50 now and then answers a script's result it cannot read back
            // (seen on the first script after a page load, within 2 s, 2 times in 7 runs of a
            // test that otherwise passes): the script is run once more, and it says so.
            Err(e) if self.kind == BrowserKind::WebKit && e.to_string().contains("Could not parse script result") => {
                eprintln!("WebKitWebDriver: {e}; the script is run again");
                self.client.execute_async(&script, args).await.unwrap()
            }
            Err(e) => panic!("the script failed in the driver: {e}"),
        }
    }

    /// Polls `expression` in the page until it is truthy (then returns its value) or `timeout` passes.
    /// A script that fails (a page being replaced: Firefox's "Document was unloaded") counts as
    /// not yet.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Value {
        let started = std::time::Instant::now();
        loop {
            let value = self.client.execute(&format!("return {expression};"), vec![]).await;
            let truthy = value
                .as_ref()
                .is_ok_and(|v| !matches!(v, Value::Null | Value::Bool(false)) && *v != json!(0) && *v != json!(""));
            if truthy {
                return value.unwrap();
            }
            assert!(
                started.elapsed() < timeout,
                "timed out waiting for {expression} (last: {value:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident memory of every process of this browser (its browser, content, GPU and
    /// utility processes), summed, in KiB. Linux only.
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
        if let Some(display) = &mut self.display {
            let _ = display.kill();
            let _ = display.wait();
        }
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

/// Runs browser tests in each engine: `in_every_browser!(a, b)`, where each of `a` and `b` is an
/// `async fn(BrowserKind)`, makes the modules `a` and `b` with the tests `chromium`, `firefox` and
/// `webkit` (`cargo test a::firefox`). Each runs on a multi-threaded runtime, so that what a test
/// serves itself (another origin's page) answers while the test waits on the browser.
#[macro_export]
macro_rules! in_every_browser {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn chromium() {
                    super::$name($crate::browser::BrowserKind::Chromium).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn firefox() {
                    super::$name($crate::browser::BrowserKind::Firefox).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn webkit() {
                    super::$name($crate::browser::BrowserKind::WebKit).await
                }
            }
        )+
    };
}
