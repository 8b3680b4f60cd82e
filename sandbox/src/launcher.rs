//! The launcher: a process started once from the caller's binary (`--engine-launcher`) that
//! holds nothing but loaded code and forks each engine process on request. Starting a process of
//! a binary linked against Debian's FFmpeg costs about 60 ms of CPU (the dynamic loader binding
//! 136 libraries); a fork of the launcher, which has done that once, about 2 ms (190 ms of the
//! launcher's CPU for 100 launches).
//!
//! The launcher is single-threaded, confined once (confine.rs: no core dumps, no new privileges,
//! Landlock), and never reads a video. It talks with the caller over a SOCK_SEQPACKET pair on its
//! standard input:
//! - the caller sends one byte with one end of a new socket pair attached (SCM_RIGHTS);
//! - the launcher forks: the child closes everything of the launcher's, dies with it
//!   (PR_SET_PDEATHSIG), confines itself further and serves one piece of work on that socket
//!   (process.rs); the launcher closes its copy of the socket, so at any time it holds none;
//! - the launcher reports, as JSON datagrams: `Started` (what the sandbox enforces), `Launched`
//!   (the pid, with a pidfd attached: the caller signals it without pid-reuse races),
//!   `LaunchFailed`, and `Exited` for every child it reaps (the caller's "how it ended").

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::WaitStatus;
use serde::{Deserialize, Serialize};
use tokio::io::unix::AsyncFd;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use crate::confine::{self, SandboxStatus};
use crate::process::{self, Ending, EngineProcess};

/// The flag that makes the caller's binary the launcher: `<binary> --engine-launcher <max memory
/// of each engine process, bytes>`.
pub const LAUNCHER_FLAG: &str = "--engine-launcher";

/// Set in the caller's environment, makes every engine process misbehave in a way a test can see
/// (only in builds with the `test-hooks` feature): `linger` (stays after its reply, answers any
/// later work with its first output, and stays when no more comes), `signal-caller` (tries to
/// kill the launcher's caller), `abort` (aborts on its work).
#[cfg(feature = "test-hooks")]
pub const HOOK_VARIABLE: &str = "THUMBNAIL_ENGINE_HOOK";

/// What the launcher tells its caller.
#[derive(Debug, Serialize, Deserialize)]
enum Report {
    Started(SandboxStatus),
    Launched { pid: u32 },
    LaunchFailed(String),
    Exited { pid: u32, ending: Ending },
}

const MAX_REPORT: usize = 4096;

/// The launcher's main.
pub fn main(args: &[String]) -> ! {
    let max_memory = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
    // SAFETY: the caller started us with one end of a SOCK_SEQPACKET pair as standard input.
    let control = unsafe { OwnedFd::from_raw_fd(0) };
    #[cfg(feature = "test-hooks")]
    crate::process::hooks::note_caller();
    let status = match confine::enter_launcher() {
        Ok(status) => status,
        Err(e) => {
            let _ = report(&control, &Report::LaunchFailed(e), None);
            std::process::exit(3);
        }
    };
    let mut children = SigSet::empty();
    children.add(Signal::SIGCHLD);
    let exits = children.thread_block().map_err(io::Error::from).and_then(|()| {
        SignalFd::with_flags(&children, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).map_err(io::Error::from)
    });
    let exits = match exits {
        Ok(exits) => exits,
        Err(e) => {
            let _ = report(&control, &Report::LaunchFailed(format!("signalfd: {e}")), None);
            std::process::exit(3);
        }
    };
    if report(&control, &Report::Started(status), None).is_err() {
        std::process::exit(0);
    }
    let launcher = std::process::id();
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [
            PollFd::new(control.as_fd(), PollFlags::POLLIN),
            PollFd::new(exits.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => std::process::exit(4),
        }
        let (request, exited) = (fds[0].any().unwrap_or(false), fds[1].any().unwrap_or(false));
        if exited {
            while let Ok(Some(_)) = exits.read_signal() {}
            if reap(&control).is_err() {
                std::process::exit(0);
            }
        }
        if request {
            match receive_request(&control) {
                Ok(Some(socket)) => launch(&control, &exits, socket, launcher, max_memory),
                // The caller is gone: so are we, and our children with us (PR_SET_PDEATHSIG).
                Ok(None) | Err(_) => std::process::exit(0),
            }
        }
    }
}

/// One engine process on `socket`.
fn launch(control: &OwnedFd, exits: &SignalFd, socket: OwnedFd, launcher: u32, max_memory: u64) {
    // SAFETY: the launcher is single-threaded, so the child may do anything after the fork.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // Nothing of the launcher's stays open in the child: only its own socket.
            // SAFETY: closing descriptors the launcher owns, in the child's copy of them.
            unsafe {
                libc::close(control.as_raw_fd());
                libc::close(exits.as_raw_fd());
            }
            let _ = SigSet::all().thread_unblock();
            // SAFETY: prctl with an integer argument.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            if std::os::unix::process::parent_id() != launcher {
                std::process::exit(0); // the launcher died before that took effect
            }
            process::serve(StdUnixStream::from(socket), max_memory)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(socket);
            let pid = child.as_raw() as u32;
            // SAFETY: pidfd_open of our own child, which we have not reaped.
            let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
            if pidfd < 0 {
                let e = io::Error::last_os_error();
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                let _ = report(control, &Report::LaunchFailed(format!("pidfd_open: {e}")), None);
                return;
            }
            // SAFETY: the kernel just gave us this descriptor.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
            if report(control, &Report::Launched { pid }, Some(pidfd.as_raw_fd())).is_err() {
                std::process::exit(0);
            }
        }
        Err(e) => {
            let _ = report(control, &Report::LaunchFailed(format!("fork: {e}")), None);
        }
    }
}

/// Every child that has ended, reported with its peak resident memory.
fn reap(control: &OwnedFd) -> io::Result<()> {
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 with pointers to locals; WNOHANG, so it never blocks.
        let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut usage) };
        if pid <= 0 {
            return Ok(()); // none ended (0) or no children left (-1)
        }
        let peak_rss_kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
        let ending = match WaitStatus::from_raw(nix::unistd::Pid::from_raw(pid), status) {
            Ok(WaitStatus::Exited(_, code)) => Ending {
                signal: None,
                code: Some(code),
                core_dumped: false,
                peak_rss_kib,
            },
            Ok(WaitStatus::Signaled(_, signal, core_dumped)) => Ending {
                signal: Some(signal as i32),
                code: None,
                core_dumped,
                peak_rss_kib,
            },
            _ => continue, // stopped or continued: not an ending
        };
        report(
            control,
            &Report::Exited {
                pid: pid as u32,
                ending,
            },
            None,
        )?;
    }
}

fn report(control: &OwnedFd, report: &Report, fd: Option<RawFd>) -> io::Result<()> {
    let json = serde_json::to_vec(report)?;
    let fds: Vec<RawFd> = fd.into_iter().collect();
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsgs };
    sendmsg::<()>(
        control.as_raw_fd(),
        &[IoSlice::new(&json)],
        cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

/// A request's socket, or None when the caller closed the control socket.
fn receive_request(control: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut byte)];
    let msg = recvmsg::<()>(
        control.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel just gave us these descriptors; nobody else owns them.
            fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    if msg.bytes == 0 {
        return Ok(None);
    }
    fds.pop()
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a request without its socket"))
}

/// A launched child's pid, pidfd and how it will end.
type Launched = (u32, OwnedFd, oneshot::Receiver<Ending>);

/// What the caller's side shares with the task reading the launcher's reports.
struct Shared {
    control: AsyncFd<OwnedFd>,
    /// Requests sent, answered in order.
    pending: Mutex<VecDeque<oneshot::Sender<io::Result<Launched>>>>,
    /// Where each launched process's ending goes.
    endings: Mutex<HashMap<u32, oneshot::Sender<Ending>>>,
    alive: AtomicBool,
    /// The largest peak resident memory of an engine process that ended, KiB.
    peak_rss_kib: AtomicU64,
}

/// The launcher, from the caller's side. Dropping it ends the launcher and the engine processes
/// it forked.
pub struct Launcher {
    shared: Arc<Shared>,
    status: SandboxStatus,
    _process: tokio::process::Child,
}

impl Launcher {
    /// Starts `exe --engine-launcher <max_memory>` and waits for it to say it is confined.
    pub async fn start(exe: &Path, max_memory: u64) -> io::Result<Launcher> {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
        let mut command = tokio::process::Command::new(exe);
        command
            .arg(LAUNCHER_FLAG)
            .arg(max_memory.to_string())
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .env_clear()
            // A fresh process faults in every page its frames use: with malloc's memory in
            // transparent huge pages, 1080p H.264 to PNG takes 6,150 page faults instead of 14,030
            // (a reused process: 10,430), and its CPU time is back to a reused process's.
            .env("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
            .kill_on_drop(true);
        #[cfg(feature = "test-hooks")]
        if let Some(hook) = std::env::var_os(HOOK_VARIABLE) {
            command.env(HOOK_VARIABLE, hook);
        }
        let child = command.spawn()?;
        nix::fcntl::fcntl(&ours, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))?;
        // SAFETY: an OwnedFd keeps its one descriptor open for as long as the AsyncFd owns it.
        let control = unsafe { AsyncFd::register(ours) }.map_err(|e| io::Error::other(e.to_string()))?;
        let first = tokio::time::timeout(Duration::from_secs(30), receive_report(&control))
            .await
            .map_err(|_| io::Error::other("the engine launcher did not start within 30 s"))?;
        let status = match first? {
            (Report::Started(status), _) => status,
            (Report::LaunchFailed(why), _) => return Err(io::Error::other(format!("the engine launcher: {why}"))),
            (other, _) => return Err(io::Error::other(format!("the engine launcher said {other:?} first"))),
        };
        let shared = Arc::new(Shared {
            control,
            pending: Mutex::new(VecDeque::new()),
            endings: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
            peak_rss_kib: AtomicU64::new(0),
        });
        tokio::spawn(read_reports(shared.clone()));
        Ok(Launcher {
            shared,
            status,
            _process: child,
        })
    }

    /// What the launcher's part of the sandbox enforces (seccomp is each engine process's).
    pub fn status(&self) -> &SandboxStatus {
        &self.status
    }

    /// The largest peak resident memory of an engine process that ended so far, in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.shared.peak_rss_kib.load(Ordering::Relaxed) * 1024
    }

    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
    }

    /// A new engine process, confined and waiting for its work.
    pub async fn launch(&self) -> io::Result<EngineProcess> {
        let (ours, theirs) = StdUnixStream::pair()?;
        let (answer, launched) = oneshot::channel();
        self.request(OwnedFd::from(theirs), answer).await?;
        let (pid, pidfd, ending) = launched
            .await
            .map_err(|_| io::Error::other("the engine launcher ended"))??;
        ours.set_nonblocking(true)?;
        let mut process = EngineProcess::new(pid, pidfd, UnixStream::from_std(ours)?, ending);
        tokio::time::timeout(Duration::from_secs(10), process.ready())
            .await
            .map_err(|_| io::Error::other("the engine process was not ready within 10 s"))??;
        Ok(process)
    }

    async fn request(&self, socket: OwnedFd, answer: oneshot::Sender<io::Result<Launched>>) -> io::Result<()> {
        let fds = [socket.as_raw_fd()];
        loop {
            let mut guard = self.shared.control.writable().await?;
            // The request and its place among the pending ones, together: answers come in order.
            let mut pending = self.shared.pending.lock().expect("pending launches");
            if !self.is_alive() {
                return Err(io::Error::other("the engine launcher ended"));
            }
            let sent = guard.try_io(|control| {
                sendmsg::<()>(
                    control.as_raw_fd(),
                    &[IoSlice::new(b"L")],
                    &[ControlMessage::ScmRights(&fds)],
                    MsgFlags::MSG_NOSIGNAL,
                    None,
                )
                .map_err(io::Error::from)
            });
            match sent {
                Ok(Ok(_)) => {
                    pending.push_back(answer);
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

async fn receive_report(control: &AsyncFd<OwnedFd>) -> io::Result<(Report, Option<OwnedFd>)> {
    loop {
        let mut guard = control.readable().await?;
        let received = guard.try_io(|control| {
            let mut buffer = vec![0u8; MAX_REPORT];
            let mut space = nix::cmsg_space!([RawFd; 1]);
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let msg = recvmsg::<()>(
                control.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(io::Error::from)?;
            let mut fd = None;
            for cmsg in msg.cmsgs().map_err(io::Error::from)? {
                if let ControlMessageOwned::ScmRights(received) = cmsg {
                    // SAFETY: the kernel just gave us these descriptors; nobody else owns them.
                    for raw in received {
                        fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
                    }
                }
            }
            let len = msg.bytes;
            buffer.truncate(len);
            Ok((buffer, fd))
        });
        match received {
            Ok(Ok((bytes, _))) if bytes.is_empty() => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(Ok((bytes, fd))) => return Ok((serde_json::from_slice(&bytes)?, fd)),
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

async fn read_reports(shared: Arc<Shared>) {
    loop {
        match receive_report(&shared.control).await {
            Ok((Report::Launched { pid }, Some(pidfd))) => {
                let (tell, ending) = oneshot::channel();
                shared.endings.lock().expect("endings").insert(pid, tell);
                if let Some(answer) = shared.pending.lock().expect("pending launches").pop_front() {
                    // A launch nobody waits for any more: its process finds its socket closed.
                    let _ = answer.send(Ok((pid, pidfd, ending)));
                }
            }
            Ok((Report::LaunchFailed(why), _)) => {
                if let Some(answer) = shared.pending.lock().expect("pending launches").pop_front() {
                    let _ = answer.send(Err(io::Error::other(why)));
                }
            }
            Ok((Report::Exited { pid, ending }, _)) => {
                shared.peak_rss_kib.fetch_max(ending.peak_rss_kib, Ordering::Relaxed);
                if let Some(tell) = shared.endings.lock().expect("endings").remove(&pid) {
                    let _ = tell.send(ending);
                }
            }
            Ok((report, _)) => tracing::warn!(?report, "unexpected report from the engine launcher"),
            Err(e) => {
                tracing::error!(error = %e, "the engine launcher ended");
                shared.alive.store(false, Ordering::Release);
                // Every waiter hears that it ended (their senders dropped).
                shared.pending.lock().expect("pending launches").clear();
                shared.endings.lock().expect("endings").clear();
                return;
            }
        }
    }
}
