//! Spare engine processes: launched and confined ahead of the work they will run, so that a
//! piece of work takes one that is ready, and another is launched in the background to replace
//! it. Each runs one piece of work and exits (process.rs); none is ever given a second.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::confine::SandboxStatus;
use crate::launcher::Launcher;
use crate::process::EngineProcess;

pub struct Spares {
    exe: PathBuf,
    max_memory: u64,
    /// How many are kept ready.
    count: usize,
    launcher: Mutex<Arc<Launcher>>,
    ready: Mutex<VecDeque<EngineProcess>>,
    status: SandboxStatus,
}

impl Spares {
    /// Starts the launcher (`exe --engine-launcher`, each engine process limited to `max_memory`
    /// bytes of address space; 0: none) and `count` spares. Fails when engine processes cannot
    /// be started or confined at all.
    pub async fn start(exe: &Path, max_memory: u64, count: usize) -> io::Result<Arc<Spares>> {
        let launcher = Launcher::start(exe, max_memory).await?;
        // The first one tells whether seccomp works here: an engine process that cannot enter it
        // refuses to run.
        let first = launcher.launch().await?;
        let status = SandboxStatus {
            seccomp: true,
            ..launcher.status().clone()
        };
        let spares = Arc::new(Spares {
            exe: exe.to_owned(),
            max_memory,
            count: count.max(1),
            launcher: Mutex::new(Arc::new(launcher)),
            ready: Mutex::new(VecDeque::from([first])),
            status,
        });
        for _ in 1..spares.count {
            spares.refill();
        }
        Ok(spares)
    }

    /// What the sandbox of every engine process enforces on this kernel.
    pub fn status(&self) -> &SandboxStatus {
        &self.status
    }

    /// The largest peak resident memory of an engine process that ended so far (of the current
    /// launcher's), in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.launcher.lock().expect("launcher").peak_rss()
    }

    /// A confined engine process waiting for its work: a spare when one is ready, else a new one.
    pub async fn take(self: &Arc<Self>) -> io::Result<EngineProcess> {
        let spare = loop {
            match self.ready.lock().expect("spares").pop_front() {
                Some(process) if process.has_exited() => continue, // killed while it waited
                other => break other,
            }
        };
        self.refill();
        match spare {
            Some(process) => Ok(process),
            None => self.launch().await,
        }
    }

    /// One more spare, launched in the background (kept if fewer than `count` are ready).
    fn refill(self: &Arc<Self>) {
        let spares = self.clone();
        tokio::spawn(async move {
            match spares.launch().await {
                Ok(process) => {
                    let mut ready = spares.ready.lock().expect("spares");
                    if ready.len() < spares.count {
                        ready.push_back(process);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot launch a spare engine process"),
            }
        });
    }

    async fn launch(&self) -> io::Result<EngineProcess> {
        let launcher = self.launcher.lock().expect("launcher").clone();
        let launcher = if launcher.is_alive() {
            launcher
        } else {
            tracing::warn!("the engine launcher had ended; starting another");
            let fresh = Arc::new(Launcher::start(&self.exe, self.max_memory).await?);
            *self.launcher.lock().expect("launcher") = fresh.clone();
            fresh
        };
        launcher.launch().await
    }
}
