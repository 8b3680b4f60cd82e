//! A real HTTP server that serves byte ranges, for URL sources: Debian's nginx (`nginx-light`),
//! on 127.0.0.1 and a free port, its configuration, logs and temporary files in a folder of its
//! own, stopped and deleted on drop. It serves one folder three ways:
//! - `/cors/…`: ranges, and CORS for any origin (Range allowed, Content-Range exposed) with CORP;
//! - `/no-range/…`: CORS, but every range answered with the whole file (`max_ranges 0`);
//! - `/no-cors/…`: ranges without any CORS header: another origin's page may not read it.
//!
//! Its access log records each response's body bytes, which [`RangeServer::bytes_sent`] adds up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::TestDir;

pub struct RangeServer {
    child: Child,
    dir: TestDir,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

const CORS: &str = r#"
      add_header Access-Control-Allow-Origin * always;
      add_header Access-Control-Allow-Headers Range always;
      add_header Access-Control-Expose-Headers "Content-Range, Content-Length, Accept-Ranges" always;
      add_header Cross-Origin-Resource-Policy cross-origin always;
      if ($request_method = OPTIONS) { return 204; }"#;

impl RangeServer {
    /// Serves `root` (see the module's description).
    pub fn start(root: &Path) -> RangeServer {
        let nginx = Path::new("/usr/sbin/nginx");
        assert!(
            nginx.is_file(),
            "nginx is not installed (Debian's nginx-light; ./dev.sh test installs it)"
        );
        let dir = TestDir::new("nginx");
        let port = crate::free_port();
        let d = dir.path().display();
        let root = root.canonicalize().unwrap();
        let root = root.display();
        let config = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  log_format sent '$request_method $uri $status $body_bytes_sent';
  access_log {d}/access.log sent;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  types {{ video/mp4 mp4; video/webm webm; }}
  server {{
    listen 127.0.0.1:{port};
    location /cors/ {{ alias {root}/;{CORS}
    }}
    location /no-range/ {{ alias {root}/; max_ranges 0;{CORS}
    }}
    location /no-cors/ {{ alias {root}/; }}
  }}
}}
"#
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start nginx");
        let server = RangeServer {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
        };
        crate::wait_for_port(port, Duration::from_secs(10), || {
            let log = std::fs::read_to_string(server.dir.path().join("error.log")).unwrap_or_default();
            format!("nginx did not start: {log}")
        });
        server
    }

    /// The body bytes sent so far for requests whose path starts with `prefix`.
    pub fn bytes_sent(&self, prefix: &str) -> u64 {
        self.log_lines()
            .iter()
            .filter(|l| l.get(1).is_some_and(|path| path.starts_with(prefix)))
            .filter_map(|l| l.get(3)?.parse::<u64>().ok())
            .sum()
    }

    /// The requests so far, as (method, path, status, bytes).
    pub fn log_lines(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(str::to_owned).collect())
            .collect()
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }
}

impl Drop for RangeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A byte-range server whose file misbehaves (`changing_range_server.py`, Python's http.server):
/// `/changes-after/N/video` is replaced after N answers (another ETag and Last-Modified),
/// `/shifted/video` answers every range one byte later than asked; `/steady/video` neither.
pub struct ChangingRangeServer {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl ChangingRangeServer {
    /// Serves `file`.
    pub fn start(file: &Path) -> ChangingRangeServer {
        let port = crate::free_port();
        let child = Command::new("python3")
            .arg(crate::root().join("tests/support/changing_range_server.py"))
            .arg(port.to_string())
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start python3");
        crate::wait_for_port(port, Duration::from_secs(10), || {
            "the range server did not start".into()
        });
        ChangingRangeServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChangingRangeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
