//! The engine process's sandbox, entered once the process has loaded everything it needs and before
//! it reads any video: whatever a hostile file makes FFmpeg do, the process can then only compute
//! on the descriptors it was given.
//!
//! - Landlock (every file-system right handled, none granted; TCP bind/connect likewise; no
//!   signals to or abstract sockets of processes outside the sandbox): no file can be opened.
//! - seccomp: an allow-list of system calls (memory, reading and seeking the passed file, the
//!   socket to the server, time, exit); anything else fails with EPERM.
//! - An address-space limit (RLIMIT_AS), so a decompression bomb fails with "no memory" inside
//!   the engine process rather than taking memory from its caller.

use std::collections::BTreeMap;

use landlock::{Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetStatus, Scope, ABI};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// What the sandbox could enforce on this kernel.
#[derive(Debug)]
pub struct Status {
    pub landlock: &'static str,
}

pub fn enter(max_memory: u64) -> Result<Status, String> {
    if max_memory > 0 {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, max_memory, max_memory)
            .map_err(|e| format!("setrlimit: {e}"))?;
    }
    let landlock = restrict_files()?;
    restrict_syscalls()?;
    Ok(Status { landlock })
}

fn restrict_files() -> Result<&'static str, String> {
    let abi = ABI::V6;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("landlock: {e}"))?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => "not available on this kernel",
    })
}

/// The system calls an engine process makes once it is running (found by running every fixture under
/// the filter in the tests; anything else fails with EPERM, which the engine reports as an error).
fn allowed_syscalls() -> Vec<i64> {
    let mut calls = vec![
        // memory
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        // the video (a passed descriptor) and the socket to the server
        libc::SYS_read,
        libc::SYS_pread64,
        libc::SYS_readv,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_close,
        libc::SYS_recvmsg,
        libc::SYS_sendmsg,
        libc::SYS_recvfrom,
        libc::SYS_sendto,
        libc::SYS_fcntl,
        libc::SYS_ppoll,
        // threads' plumbing, time, randomness, signals, exit
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_clock_gettime,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_getrandom,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigaction,
        libc::SYS_sigaltstack,
        libc::SYS_tgkill, // abort() raising SIGABRT on itself
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([libc::SYS_poll, libc::SYS_arch_prctl]);
    calls
}

fn restrict_syscalls() -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("seccomp: {e:?}"))?;
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        allowed_syscalls().into_iter().map(|call| (call, vec![])).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| format!("seccomp: {e}"))?;
    let program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e:?}"))?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))
}
