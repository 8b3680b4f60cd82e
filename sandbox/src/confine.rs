//! What the engine's processes may still do, entered in two steps before any video is read:
//!
//! - [`enter_launcher`], once, in the launcher (launcher.rs) and so in every engine process it
//!   forks: no core dumps (`RLIMIT_CORE` 0, not dumpable: a crash cannot write a user's video to
//!   disk, nor another process of ours read its memory), no new privileges, and Landlock (every
//!   file-system right handled and none granted; TCP bind/connect likewise; no signals to or
//!   abstract sockets of processes outside the sandbox), as far as the kernel's Landlock ABI goes.
//! - [`enter_engine`], in each engine process right after the fork: an address-space limit
//!   (`RLIMIT_AS`, so a decompression bomb fails with "no memory" inside it) and seccomp, an
//!   allow-list of system calls (memory, reading the passed file, the socket to the caller, time,
//!   exit; `tgkill`/`tkill` to itself only); anything else fails with EPERM.
//!
//! What Landlock enforces depends on the kernel (ABI 1: files; 4: TCP; 6: signals and abstract
//! sockets); [`SandboxStatus`] says, and the callers report it. Signals do not depend on it:
//! seccomp lets an engine process signal no process but itself.

use std::collections::BTreeMap;

use landlock::{Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus, Scope, ABI};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

/// What the sandbox of the engine's processes enforces on this kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxStatus {
    /// The kernel's Landlock ABI version as used (0: no Landlock).
    pub landlock_abi: u32,
    /// Landlock denies opening any file.
    pub files: bool,
    /// Landlock denies TCP bind and connect (ABI 4).
    pub network: bool,
    /// Landlock denies signals and abstract sockets outside the sandbox (ABI 6).
    pub scoped_signals: bool,
    /// The system-call allow-list is in force (every engine process reports it before it is used).
    pub seccomp: bool,
    /// No core dumps.
    pub no_core_dumps: bool,
}

impl SandboxStatus {
    /// Is the sandbox complete enough for `--require-sandbox`: Landlock keeps files out and
    /// seccomp is on (network and signals are also closed by seccomp).
    pub fn is_enforced(&self) -> bool {
        self.files && self.seccomp && self.no_core_dumps
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        let yes = |b: bool| if b { "enforced" } else { "not enforced" };
        format!(
            "Landlock ABI {}: files {}, TCP {}, signals and abstract sockets {}; seccomp {} (no signals but to itself, no sockets); core dumps {}",
            self.landlock_abi,
            yes(self.files),
            yes(self.network),
            yes(self.scoped_signals),
            if self.seccomp { "on" } else { "off" },
            if self.no_core_dumps { "off" } else { "possible" },
        )
    }
}

/// The launcher's part (inherited by every engine process it forks).
pub(crate) fn enter_launcher() -> Result<SandboxStatus, String> {
    no_core_dumps()?;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI::V6))
        .and_then(|r| r.handle_access(AccessNet::from_all(ABI::V6)))
        .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("landlock: {e}"))?;
    let enforced = status.ruleset != RulesetStatus::NotEnforced;
    // What the crate uses of the kernel's ABI (the kernel's own, when newer, changes nothing here).
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi as u32,
        _ => 0,
    };
    if !status.no_new_privs {
        // Landlock sets it when it restricts; without Landlock, set it here.
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    }
    Ok(SandboxStatus {
        landlock_abi: abi,
        files: enforced && abi >= 1,
        network: enforced && abi >= 4,
        scoped_signals: enforced && abi >= 6,
        seccomp: false, // each engine process enters it itself
        no_core_dumps: true,
    })
}

fn no_core_dumps() -> Result<(), String> {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| format!("RLIMIT_CORE: {e}"))?;
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))
}

/// An engine process's part, entered right after the fork.
pub(crate) fn enter_engine(max_memory: u64) -> Result<(), String> {
    if max_memory > 0 {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, max_memory, max_memory)
            .map_err(|e| format!("setrlimit: {e}"))?;
    }
    // Inherited from the launcher; set again, as they are what keeps the videos out of core files.
    no_core_dumps()?;
    restrict_syscalls(std::process::id())
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
        // the video (a passed descriptor) and the socket to the caller
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
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([libc::SYS_poll, libc::SYS_arch_prctl]);
    calls
}

fn restrict_syscalls(pid: u32) -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("seccomp: {e:?}"))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        allowed_syscalls().into_iter().map(|call| (call, vec![])).collect();
    // abort() raises SIGABRT on itself: tgkill(own pid, own tid, …); the process has one thread,
    // so its tid is its pid. A signal to any other process is refused.
    let to_itself = |call: i64| -> Result<(i64, Vec<SeccompRule>), String> {
        let condition = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, u64::from(pid))
            .map_err(|e| format!("seccomp: {e}"))?;
        Ok((
            call,
            vec![SeccompRule::new(vec![condition]).map_err(|e| format!("seccomp: {e}"))?],
        ))
    };
    for call in [libc::SYS_tgkill, libc::SYS_tkill] {
        let (call, rule) = to_itself(call)?;
        rules.insert(call, rule);
    }
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
