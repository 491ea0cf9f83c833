//! `process.rlimits` → setrlimit(2).

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{Error, Result};

fn resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        if l.soft() > l.hard() {
            return Err(Error::Setup(format!(
                "process.rlimits {:?}: soft limit {} is above the hard limit {}",
                l.typ(),
                l.soft(),
                l.hard()
            )));
        }
        let rl = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: `rl` is a valid rlimit for the duration of the call.
        if unsafe { libc::setrlimit(resource(l.typ()), &rl) } < 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::Setup(format!(
                "process.rlimits {:?} = {}/{}: {e}{}",
                l.typ(),
                l.soft(),
                l.hard(),
                if e.raw_os_error() == Some(libc::EPERM) {
                    " (raising a hard limit needs CAP_SYS_RESOURCE)"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}
