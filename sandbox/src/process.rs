//! An engine process: forked by the launcher (launcher.rs), confined (confine.rs), it runs ONE
//! piece of work and exits, so no process ever sees two videos: a file that takes over FFmpeg
//! in one has nothing after it to read.
//!
//! The wire, over a Unix stream socket: the process first says `Ready` (confined) or
//! `Refused` (it could not be); the caller sends `u32 length (LE) + JSON` [`Work`], with the
//! video's open file descriptor attached (SCM_RIGHTS); the process answers with `u32 length +
//! JSON` messages: any number of `Progress` (work of many frames, after each), then one `Reply`
//! (`Result<Output, Failure>`) followed by the encoded images' bytes one after another (`bytes`
//! is not in the JSON; their lengths are `image_lens`, in the order of [`Output::images_mut`]).
//! The process reads the video through the descriptor, so once confined it opens no file at
//! all. A process that crashes, aborts or is killed costs its one piece of work: the caller sees
//! the socket close.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::Duration;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use crate::work::{self, Failure, Output, Work};

/// Larger messages than this are a broken peer.
const MAX_MESSAGE: u32 = 1 << 20;

#[derive(Serialize, Deserialize)]
struct Reply {
    result: Result<Output, Failure>,
    image_lens: Vec<u64>,
}

/// What the process says.
#[derive(Serialize, Deserialize)]
enum Message {
    /// Confined, waiting for its work.
    Ready,
    /// It could not be confined (and exits).
    Refused(String),
    /// How far the work is, 0 to 1.
    Progress(f64),
    Reply(Reply),
}

fn write_message(mut socket: &StdUnixStream, message: &Message) -> io::Result<()> {
    let json = serde_json::to_vec(message)?;
    socket.write_all(&(json.len() as u32).to_le_bytes())?;
    socket.write_all(&json)
}

/// The engine process, right after the launcher forked it: confines itself, says so, runs one
/// piece of work and exits.
pub(crate) fn serve(socket: StdUnixStream, max_memory: u64) -> ! {
    if let Err(e) = crate::confine::enter_engine(max_memory) {
        let _ = write_message(&socket, &Message::Refused(e));
        std::process::exit(3);
    }
    if write_message(&socket, &Message::Ready).is_err() {
        std::process::exit(0); // the caller is gone
    }
    let (job, file) = match receive_job(&socket) {
        Ok(Some(received)) => received,
        Ok(None) => std::process::exit(0), // the caller closed the socket: not needed
        Err(e) => {
            eprintln!("engine process: bad request: {e}");
            std::process::exit(2);
        }
    };
    #[cfg(feature = "test-hooks")]
    hooks::before_work();
    // A caller that stopped listening is seen at the reply.
    let progress = |done: f64| drop(write_message(&socket, &Message::Progress(done)));
    let result = work::run(&job, file, None, &progress);
    #[cfg(feature = "test-hooks")]
    hooks::after_work(&socket, &result);
    let _ = send_reply(&socket, result);
    std::process::exit(0);
}

/// Misbehaviour on demand, for the tests that show what a process taken over by its video can
/// and cannot do (`launcher::HOOK_VARIABLE`).
#[cfg(feature = "test-hooks")]
pub(crate) mod hooks {
    use std::os::unix::net::UnixStream as StdUnixStream;
    use std::sync::OnceLock;

    use super::{receive_job, send_reply};
    use crate::work::{Failure, Output};

    /// The launcher's caller (the server, the command line), noted by the launcher at its start.
    static CALLER: OnceLock<u32> = OnceLock::new();

    fn hook() -> Option<String> {
        std::env::var(crate::launcher::HOOK_VARIABLE).ok()
    }

    pub(crate) fn note_caller() {
        let _ = CALLER.set(std::os::unix::process::parent_id());
    }

    pub(crate) fn before_work() {
        match hook().as_deref() {
            Some("abort") => std::process::abort(),
            Some("signal-caller") => {
                if let Some(&caller) = CALLER.get() {
                    let caller = caller as libc::pid_t;
                    // SAFETY: plain system calls; the sandbox is what should make them fail.
                    let refused = unsafe {
                        [
                            libc::kill(caller, libc::SIGKILL),
                            libc::syscall(libc::SYS_tgkill, caller, caller, libc::SIGKILL) as i32,
                            libc::syscall(libc::SYS_tkill, caller, libc::SIGKILL) as i32,
                        ]
                    };
                    eprintln!("engine process (hook): signals to the caller {caller}: {refused:?}");
                }
            }
            _ => {}
        }
    }

    pub(crate) fn after_work(socket: &StdUnixStream, result: &Result<Output, Failure>) {
        if hook().as_deref() == Some("linger") {
            // Stays, answers every later piece of work with this one's output, and when no more
            // comes, stays all the same.
            while send_reply(socket, result.clone()).is_ok() && matches!(receive_job(socket), Ok(Some(_))) {}
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

/// A piece of work and its video, or None when the caller closed the socket.
pub(crate) fn receive_job(socket: &StdUnixStream) -> io::Result<Option<(Work, File)>> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let received = {
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let msg = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        for cmsg in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                // SAFETY: the kernel just gave us these descriptors; nobody else owns them.
                fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        msg.bytes
    };
    if received == 0 {
        return Ok(None);
    }
    buffer.truncate(received);
    while buffer.len() < 4 {
        read_more(socket, &mut buffer)?;
    }
    let len = u32::from_le_bytes(buffer[..4].try_into().unwrap());
    if len > MAX_MESSAGE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "message too long"));
    }
    while buffer.len() < 4 + len as usize {
        read_more(socket, &mut buffer)?;
    }
    let job: Work = serde_json::from_slice(&buffer[4..4 + len as usize])?;
    let fd = fds
        .pop()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no file descriptor with the job"))?;
    Ok(Some((job, File::from(fd))))
}

fn read_more(mut socket: &StdUnixStream, buffer: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = socket.read(&mut chunk)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

pub(crate) fn send_reply(mut socket: &StdUnixStream, mut result: Result<Output, Failure>) -> io::Result<()> {
    let images: Vec<Vec<u8>> = match &mut result {
        Ok(output) => output
            .images_mut()
            .map(|frame| std::mem::take(&mut frame.bytes))
            .collect(),
        Err(_) => Vec::new(),
    };
    let reply = Reply {
        result,
        image_lens: images.iter().map(|image| image.len() as u64).collect(),
    };
    write_message(socket, &Message::Reply(reply))?;
    for image in &images {
        socket.write_all(image)?;
    }
    socket.flush()
}

/// How a call to an engine process went wrong.
#[derive(Debug)]
pub enum CallError {
    /// The work never reached the process (it had died while idle): another may take it.
    NotDelivered(io::Error),
    /// The process died or broke the protocol while on the work.
    Died(io::Error),
}

/// How an engine process ended, as the launcher saw it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Ending {
    pub signal: Option<i32>,
    pub code: Option<i32>,
    pub core_dumped: bool,
    /// Its peak resident memory, KiB.
    pub peak_rss_kib: u64,
}

/// An engine process, from the caller's side. Dropping it kills the process.
pub struct EngineProcess {
    pid: u32,
    /// Signals it without any risk of reaching another process that took its pid.
    pidfd: OwnedFd,
    socket: UnixStream,
    /// How it ended, from the launcher that reaps it.
    ending: oneshot::Receiver<Ending>,
}

impl EngineProcess {
    pub(crate) fn new(pid: u32, pidfd: OwnedFd, socket: UnixStream, ending: oneshot::Receiver<Ending>) -> Self {
        EngineProcess {
            pid,
            pidfd,
            socket,
            ending,
        }
    }

    /// Waits for the process to say it is confined.
    pub(crate) async fn ready(&mut self) -> io::Result<()> {
        match self.next_message().await? {
            Message::Ready => Ok(()),
            Message::Refused(why) => Err(io::Error::other(format!(
                "the engine process cannot be sandboxed: {why}"
            ))),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "not a ready message")),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Has the process ended (while idle)?
    pub fn has_exited(&self) -> bool {
        let mut poll = [nix::poll::PollFd::new(self.pidfd.as_fd(), nix::poll::PollFlags::POLLIN)];
        // A pidfd is readable once its process has ended.
        !matches!(nix::poll::poll(&mut poll, nix::poll::PollTimeout::ZERO), Ok(0))
    }

    fn kill(&self) {
        // SAFETY: pidfd_send_signal on a pidfd we own, no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }

    /// Hands the process work on the video `file` reads; [`EngineProcess::result`] is its answer.
    pub async fn start(&mut self, job: &Work, file: &File) -> Result<(), CallError> {
        let json = serde_json::to_vec(job).map_err(|e| CallError::NotDelivered(e.into()))?;
        let mut message = (json.len() as u32).to_le_bytes().to_vec();
        message.extend_from_slice(&json);
        self.send(&message, file.as_raw_fd())
            .await
            .map_err(CallError::NotDelivered)
    }

    /// The answer to the job [`EngineProcess::start`] handed over, telling `progress` how far it is
    /// meanwhile. Images above `max_image` bytes in all, or not as many as the output has, are a
    /// broken (or compromised) engine process, not something to allocate.
    pub async fn result(
        &mut self,
        max_image: u64,
        progress: Option<&(dyn Fn(f64) + Send + Sync)>,
    ) -> Result<Result<Output, Failure>, CallError> {
        self.receive(max_image, progress).await.map_err(CallError::Died)
    }

    async fn send(&self, message: &[u8], fd: RawFd) -> io::Result<()> {
        let mut sent = 0;
        while sent < message.len() {
            self.socket.writable().await?;
            let result = self.socket.try_io(Interest::WRITABLE, || {
                let iov = [IoSlice::new(&message[sent..])];
                // The descriptor goes with the first bytes only.
                let fds = [fd];
                let cmsgs: &[ControlMessage] = if sent == 0 {
                    &[ControlMessage::ScmRights(&fds)]
                } else {
                    &[]
                };
                sendmsg::<()>(self.socket.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)
                    .map_err(io::Error::from)
            });
            match result {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The process's next message (`u32 length + JSON`), never longer than MAX_MESSAGE.
    async fn next_message(&mut self) -> io::Result<Message> {
        let len = self.socket.read_u32_le().await?;
        if len > MAX_MESSAGE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "message too long"));
        }
        let mut json = vec![0u8; len as usize];
        self.socket.read_exact(&mut json).await?;
        Ok(serde_json::from_slice(&json)?)
    }

    async fn receive(
        &mut self,
        max_image: u64,
        progress: Option<&(dyn Fn(f64) + Send + Sync)>,
    ) -> io::Result<Result<Output, Failure>> {
        let reply = loop {
            match self.next_message().await? {
                Message::Progress(done) => {
                    if let Some(progress) = progress {
                        progress(done.clamp(0.0, 1.0));
                    }
                }
                Message::Reply(reply) => break reply,
                Message::Ready | Message::Refused(_) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "not an answer"))
                }
            }
        };
        let mut result = reply.result;
        let total = reply.image_lens.iter().try_fold(0u64, |sum, len| sum.checked_add(*len));
        if !matches!(total, Some(total) if total <= max_image) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "images too large"));
        }
        let broken = || io::Error::new(io::ErrorKind::InvalidData, "not as many images as the output has");
        let mut lens = reply.image_lens.into_iter();
        if let Ok(output) = &mut result {
            for frame in output.images_mut() {
                let mut image = vec![0u8; lens.next().ok_or_else(broken)? as usize];
                self.socket.read_exact(&mut image).await?;
                frame.bytes = image;
            }
        }
        if lens.next().is_some() {
            return Err(broken());
        }
        Ok(result)
    }

    /// Kills the process and says how it ended (for the log and the client).
    pub async fn end(mut self) -> String {
        // It may be dying already (the socket closed first): give it a moment, then kill.
        let ending = match tokio::time::timeout(Duration::from_millis(200), &mut self.ending).await {
            Ok(ending) => ending.ok(),
            Err(_) => {
                self.kill();
                tokio::time::timeout(Duration::from_secs(5), &mut self.ending)
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        };
        ending.map_or_else(|| "the engine process ended".to_owned(), describe)
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        // Its one piece of work is done (or abandoned): it exits by itself, and never lingers.
        self.kill();
    }
}

fn describe(ending: Ending) -> String {
    match (ending.signal, ending.code) {
        (Some(signal), _) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map_or_else(|_| format!("signal {signal}"), |s| s.to_string());
            let core = if ending.core_dumped { ", core dumped" } else { "" };
            format!("the engine process stopped on this video ({name}{core})")
        }
        (None, Some(code)) => format!("the engine process exited with code {code} on this video"),
        _ => "the engine process ended".to_owned(),
    }
}
