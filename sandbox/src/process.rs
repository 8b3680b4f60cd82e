//! The engine's processes: the caller's own binary (the server, the command line) started again
//! with `--engine-process`, one piece of work at a time, over a Unix socket on its standard input.
//!
//! The wire: the caller sends `u32 length (LE) + JSON` [`Work`], with the video's open file
//! descriptor attached (SCM_RIGHTS); the process answers with `u32 length + JSON` messages: any
//! number of `Progress` (work of many frames, after each), then one `Reply`
//! (`Result<Output, Failure>`) followed by the encoded images' bytes one after another (`bytes`
//! is not in the JSON; their lengths are `image_lens`, in the order of [`Output::images_mut`]).
//! The process reads the video through the descriptor, so once confined (confine.rs) it opens no
//! file at all. A process that crashes, aborts or is killed costs its one piece of work: the
//! caller sees the socket close and starts another.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

use crate::work::{self, Failure, Output, Work};

/// The flag that makes the caller's binary an engine process.
pub const ENGINE_PROCESS_FLAG: &str = "--engine-process";

/// Larger messages than this are a broken peer.
const MAX_MESSAGE: u32 = 1 << 20;

#[derive(Serialize, Deserialize)]
struct Reply {
    result: Result<Output, Failure>,
    image_lens: Vec<u64>,
}

/// What the process says about a piece of work.
#[derive(Serialize, Deserialize)]
enum Message {
    /// How far it is, 0 to 1.
    Progress(f64),
    Reply(Reply),
}

fn write_message(mut socket: &StdUnixStream, message: &Message) -> io::Result<()> {
    let json = serde_json::to_vec(message)?;
    socket.write_all(&(json.len() as u32).to_le_bytes())?;
    socket.write_all(&json)
}

/// The engine process's main: `<binary> --engine-process <max memory in bytes>`.
pub fn main(args: &[String]) -> ! {
    let max_memory = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
    // SAFETY: the caller started us with one end of a socket pair as standard input.
    let socket = unsafe { StdUnixStream::from_raw_fd(0) };
    match crate::confine::enter(max_memory) {
        Ok(status) => tracing::debug!(landlock = status.landlock, "engine process confined"),
        Err(e) => {
            eprintln!("engine process: cannot enter the sandbox: {e}");
            std::process::exit(3);
        }
    }
    loop {
        let (job, file) = match receive_job(&socket) {
            Ok(Some(received)) => received,
            Ok(None) => std::process::exit(0), // the caller closed the socket
            Err(e) => {
                eprintln!("engine process: bad request: {e}");
                std::process::exit(2);
            }
        };
        // A caller that stopped listening is seen at the reply.
        let progress = |done: f64| drop(write_message(&socket, &Message::Progress(done)));
        let result = work::run(&job, file, None, &progress);
        if send_reply(&socket, result).is_err() {
            std::process::exit(0); // the caller gave up on this work
        }
    }
}

/// A piece of work and its video, or None when the caller closed the socket.
fn receive_job(socket: &StdUnixStream) -> io::Result<Option<(Work, File)>> {
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

fn send_reply(mut socket: &StdUnixStream, mut result: Result<Output, Failure>) -> io::Result<()> {
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

/// An engine process, from the caller's side. Dropping it kills the process.
pub struct EngineProcess {
    child: Child,
    socket: UnixStream,
}

impl EngineProcess {
    /// Starts `exe --engine-process <max_memory>`.
    pub fn spawn(exe: &Path, max_memory: u64) -> io::Result<EngineProcess> {
        let (ours, theirs) = StdUnixStream::pair()?;
        let child = Command::new(exe)
            .arg(ENGINE_PROCESS_FLAG)
            .arg(max_memory.to_string())
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .env_clear()
            .kill_on_drop(true)
            .spawn()?;
        ours.set_nonblocking(true)?;
        Ok(EngineProcess {
            child,
            socket: UnixStream::from_std(ours)?,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Has the process ended (while idle)?
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
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

    async fn receive(
        &mut self,
        max_image: u64,
        progress: Option<&(dyn Fn(f64) + Send + Sync)>,
    ) -> io::Result<Result<Output, Failure>> {
        let reply = loop {
            let len = self.socket.read_u32_le().await?;
            if len > MAX_MESSAGE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "reply too long"));
            }
            let mut json = vec![0u8; len as usize];
            self.socket.read_exact(&mut json).await?;
            match serde_json::from_slice(&json)? {
                Message::Progress(done) => {
                    if let Some(progress) = progress {
                        progress(done.clamp(0.0, 1.0));
                    }
                }
                Message::Reply(reply) => break reply,
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
        let status = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => {
                // It may be dying already (the socket closed first): give it a moment, then kill.
                match tokio::time::timeout(std::time::Duration::from_millis(200), self.child.wait()).await {
                    Ok(Ok(status)) => Some(status),
                    _ => {
                        let _ = self.child.start_kill();
                        self.child.wait().await.ok()
                    }
                }
            }
        };
        status.map_or_else(|| "the engine process ended".to_owned(), describe)
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.signal(), status.code()) {
        (Some(signal), _) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map_or_else(|_| format!("signal {signal}"), |s| s.to_string());
            format!("the engine process stopped on this video ({name})")
        }
        (None, Some(code)) => format!("the engine process exited with code {code} on this video"),
        _ => "the engine process ended".to_owned(),
    }
}
