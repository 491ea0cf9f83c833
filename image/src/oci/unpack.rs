//! Unpack a layer into a directory so that nothing it holds can land outside that directory.
//!
//! - entry paths: absolute paths and `..` components are refused;
//! - writing never follows a symlink: every path component is opened with
//!   `O_NOFOLLOW | O_DIRECTORY` relative to its parent, files are created with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW`, and nothing that exists is overwritten;
//! - symlinks: absolute targets are refused; relative targets are resolved against the tree
//!   once the layer is written (so archive order does not matter) and refused when they
//!   climb above the root or pass through a missing directory;
//! - hardlinks must name an existing regular file inside the root;
//! - device nodes and fifos are refused; setuid, setgid and sticky bits are dropped;
//! - the entry count and the unpacked size are bounded ([`UnpackLimits`]);
//! - a failed unpack removes everything it created, newest first.
//!
//! The layer blob's digest is checked while it streams (see [`BlobReader`]); the check ends
//! at EOF, after the files are written, so a mismatch also undoes the unpack.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{linkat, symlinkat, unlinkat, UnlinkatFlags};
use oci_spec::image::Descriptor;

use super::error::{take_inner, OciError};
use super::layout::{BlobReader, OciLayout};
use super::media::{self, Compression};

/// Linux's limit on symlinks followed while resolving one path.
const MAX_SYMLINK_HOPS: usize = 40;

/// Bounds on what one unpack may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Sum of the regular files' sizes.
    pub max_total_bytes: u64,
    /// Entries of any type, directories included.
    pub max_entries: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_total_bytes: 256 << 30,
            max_entries: 100_000,
        }
    }
}

/// What an unpack wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackReport {
    pub entries: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    /// Regular files written, relative to the target.
    pub files: Vec<PathBuf>,
}

/// The compression of a layer media type: model layers (see [`media::classify_layer`]) and
/// plain OCI image layers.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar" => Some(Compression::Tar),
        "application/vnd.oci.image.layer.v1.tar+gzip" => Some(Compression::TarGzip),
        "application/vnd.oci.image.layer.v1.tar+zstd" => Some(Compression::TarZstd),
        other => media::classify_layer(other).map(|(_, c)| c),
    }
}

/// Unpack one layer of a layout into `target` (created if missing). A `.raw` layer is
/// written as the file at its annotated path.
pub fn unpack_layer(
    layout: &OciLayout,
    layer: &Descriptor,
    target: &Path,
    limits: &UnpackLimits,
) -> Result<UnpackReport, OciError> {
    let media_type = layer.media_type().to_string();
    let reader = layout.open_descriptor(layer)?;
    let label = reader.label().to_string();
    let compression = layer_compression(&media_type).ok_or_else(|| OciError::Layer {
        layer: label.clone(),
        reason: format!("media type {media_type} is not a layer format this unpacker knows"),
    })?;
    match compression {
        Compression::Raw => {
            let path = media::layer_path(layer).ok_or_else(|| OciError::Layer {
                layer: label.clone(),
                reason: format!(
                    "raw layer has no {} annotation to name its file",
                    media::ANNOTATION_FILEPATH
                ),
            })?;
            write_raw(reader, target, &path, limits)
        }
        c => unpack_tar(reader, c, target, limits, &label),
    }
}

/// Write a raw layer as one file at `rel_path` under `target`, its digest checked while it
/// streams; on any failure the file (and directories made for it) are removed.
pub fn write_raw(
    mut blob: BlobReader,
    target: &Path,
    rel_path: &str,
    limits: &UnpackLimits,
) -> Result<UnpackReport, OciError> {
    let layer = blob.label().to_string();
    let mut u = Unpacker::new(target, &layer, limits)?;
    let result = (|| {
        let comps = clean_path(Path::new(rel_path), &layer, rel_path)?;
        if comps.is_empty() {
            return Err(u.unsafe_entry(rel_path, "empty path"));
        }
        u.count_entry(rel_path)?;
        u.add_bytes(rel_path, blob.size())?;
        let mut file = u.create_file(&comps, rel_path)?;
        io::copy(&mut blob, &mut file).map_err(|e| u.io_err(rel_path, "write", e))?;
        u.finish_file(&file, 0o644, rel_path)?;
        u.report.files.push(join(&comps));
        Ok(())
    })();
    u.finish(result)
}

/// Unpack a tar stream (optionally gzip or zstd compressed) into `target` (created if
/// missing). `layer` names the layer in errors. The reader is read to its end, so a
/// [`BlobReader`] gets to check its digest; a mismatch undoes the unpack.
pub fn unpack_tar<R: Read>(
    mut blob: R,
    compression: Compression,
    target: &Path,
    limits: &UnpackLimits,
    layer: &str,
) -> Result<UnpackReport, OciError> {
    let mut u = Unpacker::new(target, layer, limits)?;
    let result = u.unpack_stream(&mut blob, compression);
    u.finish(result)
}

/// Relative, normal components of an entry path; `.` components are dropped.
fn clean_path(path: &Path, layer: &str, entry: &str) -> Result<Vec<OsString>, OciError> {
    let refuse = |reason: &str| OciError::UnsafeEntry {
        layer: layer.to_string(),
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("path has a '..' component")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse("path is absolute")),
        }
    }
    Ok(out)
}

fn join(comps: &[OsString]) -> PathBuf {
    comps.iter().collect()
}

/// Caps the decompressed stream: the tar entries' declared sizes are checked against the
/// limits, and this catches what the sizes do not account for (endless headers, padding).
struct CapReader<R> {
    inner: R,
    left: u64,
    layer: String,
    cap: u64,
}

impl<R: Read> Read for CapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            // One more byte means over the cap.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            return Err(OciError::Layer {
                layer: self.layer.clone(),
                reason: format!(
                    "decompressed stream is over {} bytes, more than the limits allow",
                    self.cap
                ),
            }
            .into_io());
        }
        let want = (buf.len() as u64).min(self.left) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

struct Unpacker<'a> {
    target: PathBuf,
    root: OwnedFd,
    created_root: bool,
    layer: &'a str,
    limits: &'a UnpackLimits,
    /// Everything this unpack created, in order: (path, is a directory).
    created: Vec<(Vec<OsString>, bool)>,
    symlinks: Vec<Vec<OsString>>,
    dir_modes: Vec<(Vec<OsString>, u32)>,
    report: UnpackReport,
}

impl<'a> Unpacker<'a> {
    fn new(target: &Path, layer: &'a str, limits: &'a UnpackLimits) -> Result<Self, OciError> {
        let io_err = |source| OciError::Io {
            path: target.to_path_buf(),
            source,
        };
        let created_root = match fs::create_dir(target) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(io_err(e)),
        };
        let root = openat(
            nix::fcntl::AT_FDCWD,
            target,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(e.into()))?;
        Ok(Unpacker {
            target: target.to_path_buf(),
            root,
            created_root,
            layer,
            limits,
            created: Vec::new(),
            symlinks: Vec::new(),
            dir_modes: Vec::new(),
            report: UnpackReport::default(),
        })
    }

    fn unsafe_entry(&self, entry: &str, reason: impl Into<String>) -> OciError {
        OciError::UnsafeEntry {
            layer: self.layer.to_string(),
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn io_err(&self, entry: &str, op: &'static str, err: io::Error) -> OciError {
        match take_inner(err) {
            Ok(oci) => oci,
            Err(source) => OciError::UnpackIo {
                layer: self.layer.to_string(),
                entry: entry.to_string(),
                op,
                source,
            },
        }
    }

    fn count_entry(&mut self, entry: &str) -> Result<(), OciError> {
        self.report.entries += 1;
        if self.report.entries > self.limits.max_entries {
            return Err(OciError::TooManyEntries {
                layer: self.layer.to_string(),
                entry: entry.to_string(),
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    fn add_bytes(&mut self, entry: &str, size: u64) -> Result<(), OciError> {
        let total = self.report.bytes.saturating_add(size);
        if total > self.limits.max_total_bytes {
            return Err(OciError::TooLarge {
                layer: self.layer.to_string(),
                entry: entry.to_string(),
                size,
                total,
                limit: self.limits.max_total_bytes,
            });
        }
        self.report.bytes = total;
        Ok(())
    }

    /// Open the directory `comps` under the root, one component at a time, never following
    /// a symlink; with `create`, missing directories are made (and recorded).
    fn open_dir(&mut self, comps: &[OsString], create: bool, entry: &str) -> Result<OwnedFd, OciError> {
        let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        let mut cur =
            openat(&self.root, ".", flags, Mode::empty()).map_err(|e| self.io_err(entry, "open target", e.into()))?;
        for (i, name) in comps.iter().enumerate() {
            let next = match openat(&cur, name.as_os_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if create => {
                    match mkdirat(&cur, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) => self.created.push((comps[..=i].to_vec(), true)),
                        Err(Errno::EEXIST) => {}
                        Err(e) => return Err(self.io_err(entry, "mkdir", e.into())),
                    }
                    openat(&cur, name.as_os_str(), flags, Mode::empty())
                        .map_err(|e| self.component_err(entry, &comps[..=i], e))?
                }
                Err(e) => return Err(self.component_err(entry, &comps[..=i], e)),
            };
            cur = next;
        }
        Ok(cur)
    }

    fn component_err(&self, entry: &str, comps: &[OsString], err: Errno) -> OciError {
        match err {
            Errno::ELOOP | Errno::ENOTDIR => self.unsafe_entry(
                entry,
                format!(
                    "path component {} is a symlink or not a directory (never followed)",
                    join(comps).display()
                ),
            ),
            e => self.io_err(entry, "open directory", e.into()),
        }
    }

    fn exists_err(&self, entry: &str) -> OciError {
        self.unsafe_entry(entry, "already exists (entries never overwrite)")
    }

    fn create_file(&mut self, comps: &[OsString], entry: &str) -> Result<File, OciError> {
        let (name, parent) = comps.split_last().expect("non-empty path");
        let dir = self.open_dir(parent, true, entry)?;
        let fd = openat(
            &dir,
            name.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| match e {
            Errno::EEXIST => self.exists_err(entry),
            e => self.io_err(entry, "create", e.into()),
        })?;
        self.created.push((comps.to_vec(), false));
        Ok(File::from(fd))
    }

    fn finish_file(&self, file: &File, mode: u32, entry: &str) -> Result<(), OciError> {
        // Only the permission bits: setuid, setgid and sticky are dropped.
        fchmod(file.as_fd(), Mode::from_bits_truncate((mode & 0o777) as _))
            .map_err(|e| self.io_err(entry, "chmod", e.into()))
    }

    fn unpack_stream(&mut self, blob: &mut dyn Read, compression: Compression) -> Result<(), OciError> {
        {
            let decoded: Box<dyn Read + '_> =
                match compression {
                    Compression::Tar => Box::new(&mut *blob),
                    Compression::TarGzip => Box::new(flate2::read::MultiGzDecoder::new(&mut *blob)),
                    Compression::TarZstd => Box::new(ruzstd::decoding::StreamingDecoder::new(&mut *blob).map_err(
                        |e| OciError::Layer {
                            layer: self.layer.to_string(),
                            reason: format!("not a zstd stream: {e}"),
                        },
                    )?),
                    Compression::Raw => {
                        return Err(OciError::Layer {
                            layer: self.layer.to_string(),
                            reason: "a raw layer is not a tar stream".to_string(),
                        })
                    }
                };
            // Headers, long names and padding: generously 8 KiB per entry on top of content.
            let cap = self
                .limits
                .max_total_bytes
                .saturating_add(self.limits.max_entries.saturating_add(4).saturating_mul(8192));
            let capped = CapReader {
                inner: decoded,
                left: cap,
                layer: self.layer.to_string(),
                cap,
            };
            let mut archive = tar::Archive::new(capped);
            self.unpack_entries(&mut archive)?;
            // Read what follows the end-of-archive marker, so the whole stream is decoded.
            let mut rest = archive.into_inner();
            io::copy(&mut rest, &mut io::sink()).map_err(|e| self.io_err("(end of archive)", "read", e))?;
        }
        // And the rest of the blob: a BlobReader checks size and digest at EOF.
        io::copy(blob, &mut io::sink()).map_err(|e| self.io_err("(end of layer)", "read", e))?;
        self.check_symlinks()?;
        self.apply_dir_modes()?;
        Ok(())
    }

    fn unpack_entries<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), OciError> {
        let entries = archive.entries().map_err(|e| self.io_err("(archive)", "read", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.io_err("(next entry)", "read header", e))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            self.count_entry(&name)?;
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| self.io_err(&name, "read path", e))?
                .into_owned();
            let comps = clean_path(&path, self.layer, &name)?;
            if comps.last().is_some_and(|n| n.as_bytes().starts_with(b".wh.")) {
                return Err(self.unsafe_entry(&name, "whiteout entries are not supported"));
            }
            let mode = entry.header().mode().unwrap_or(0o644);
            if kind.is_dir() {
                self.make_dir(&comps, mode, &name)?;
                continue;
            }
            if comps.is_empty() {
                return Err(self.unsafe_entry(&name, "names the target directory itself"));
            }
            if kind.is_file() || kind.is_contiguous() {
                let size = entry.size();
                self.add_bytes(&name, size)?;
                let mut file = self.create_file(&comps, &name)?;
                let written = io::copy(&mut entry, &mut file).map_err(|e| self.io_err(&name, "write", e))?;
                if written != size {
                    return Err(self.unsafe_entry(&name, format!("size expected {size}, found {written}")));
                }
                file.flush().map_err(|e| self.io_err(&name, "write", e))?;
                self.finish_file(&file, mode, &name)?;
                self.report.files.push(join(&comps));
            } else if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .map_err(|e| self.io_err(&name, "read link name", e))?
                    .ok_or_else(|| self.unsafe_entry(&name, "symlink without a target"))?
                    .into_owned();
                self.make_symlink(&comps, &target, &name)?;
            } else if kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| self.io_err(&name, "read link name", e))?
                    .ok_or_else(|| self.unsafe_entry(&name, "hardlink without a target"))?
                    .into_owned();
                self.make_hardlink(&comps, &target, &name)?;
            } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                return Err(self.unsafe_entry(&name, "device nodes and fifos are refused"));
            } else {
                return Err(self.unsafe_entry(&name, format!("entry type {:?} is refused", kind.as_byte() as char)));
            }
        }
        Ok(())
    }

    fn make_dir(&mut self, comps: &[OsString], mode: u32, entry: &str) -> Result<(), OciError> {
        let Some((name, parent)) = comps.split_last() else {
            return Ok(()); // `./`: the target itself
        };
        let dir = self.open_dir(parent, true, entry)?;
        match mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o700)) {
            Ok(()) => {
                self.created.push((comps.to_vec(), true));
                // Applied once the layer is written, so a read-only directory can be filled.
                self.dir_modes.push((comps.to_vec(), mode & 0o777));
                Ok(())
            }
            Err(Errno::EEXIST) => {
                let st = fstatat(&dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| self.io_err(entry, "stat", e.into()))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                    Ok(())
                } else {
                    Err(self.exists_err(entry))
                }
            }
            Err(e) => Err(self.io_err(entry, "mkdir", e.into())),
        }
    }

    fn make_symlink(&mut self, comps: &[OsString], target: &Path, entry: &str) -> Result<(), OciError> {
        if target.as_os_str().is_empty() {
            return Err(self.unsafe_entry(entry, "symlink with an empty target"));
        }
        if target.is_absolute() {
            return Err(self.unsafe_entry(entry, format!("symlink target {} is absolute", target.display())));
        }
        // The quick lexical check; the full one runs once the layer is written.
        let mut depth = comps.len() as i64 - 1;
        for c in target.components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                return Err(self.unsafe_entry(entry, format!("symlink target {} leaves the root", target.display())));
            }
        }
        let (name, parent) = comps.split_last().expect("non-empty path");
        let dir = self.open_dir(parent, true, entry)?;
        symlinkat(target, &dir, name.as_os_str()).map_err(|e| match e {
            Errno::EEXIST => self.exists_err(entry),
            e => self.io_err(entry, "symlink", e.into()),
        })?;
        self.created.push((comps.to_vec(), false));
        self.symlinks.push(comps.to_vec());
        Ok(())
    }

    fn make_hardlink(&mut self, comps: &[OsString], target: &Path, entry: &str) -> Result<(), OciError> {
        let target_name = target.display().to_string();
        let tcomps = clean_path(target, self.layer, entry)
            .map_err(|_| self.unsafe_entry(entry, format!("hardlink target {target_name} leaves the root")))?;
        let Some((tname, tparent)) = tcomps.split_last() else {
            return Err(self.unsafe_entry(entry, "hardlink to the target directory"));
        };
        let tdir = self.open_dir(tparent, false, entry)?;
        let st = fstatat(&tdir, tname.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| self.unsafe_entry(entry, format!("hardlink target {target_name}: {e}")))?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
            return Err(self.unsafe_entry(entry, format!("hardlink target {target_name} is not a regular file")));
        }
        let (name, parent) = comps.split_last().expect("non-empty path");
        let dir = self.open_dir(parent, true, entry)?;
        // No AT_SYMLINK_FOLLOW: the link is to the entry itself, checked above to be a file.
        linkat(&tdir, tname.as_os_str(), &dir, name.as_os_str(), AtFlags::empty()).map_err(|e| match e {
            Errno::EEXIST => self.exists_err(entry),
            e => self.io_err(entry, "link", e.into()),
        })?;
        self.created.push((comps.to_vec(), false));
        self.report.files.push(join(comps));
        Ok(())
    }

    /// Resolve every symlink this unpack made against the tree as written: each must stay
    /// inside the root and pass only through directories that exist.
    fn check_symlinks(&mut self) -> Result<(), OciError> {
        for link in self.symlinks.clone() {
            if let Err(reason) = self.resolve_inside(&link) {
                let entry = join(&link).display().to_string();
                return Err(self.unsafe_entry(&entry, reason));
            }
        }
        Ok(())
    }

    fn resolve_inside(&self, link: &[OsString]) -> Result<(), String> {
        let read_link = |path: &Path| -> Result<PathBuf, String> {
            readlinkat(&self.root, path)
                .map(PathBuf::from)
                .map_err(|e| format!("readlink {}: {e}", path.display()))
        };
        let mut stack: Vec<OsString> = link[..link.len() - 1].to_vec();
        let first = read_link(&join(link))?;
        let mut queue: VecDeque<OsString> = first.components().map(|c| c.as_os_str().to_os_string()).collect();
        let mut hops = 1;
        while let Some(c) = queue.pop_front() {
            if c == OsStr::new("..") {
                if stack.pop().is_none() {
                    return Err("symlink resolves above the root".to_string());
                }
                continue;
            }
            if c == OsStr::new(".") || c.is_empty() {
                continue;
            }
            if c.as_bytes().starts_with(b"/") {
                return Err("symlink resolves through an absolute target".to_string());
            }
            stack.push(c);
            let here = join(&stack);
            // `stack` holds no symlink (each was replaced by its target), so this lstat
            // follows none.
            match fstatat(&self.root, &here, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err("symlink resolves through too many symlinks".to_string());
                    }
                    stack.pop();
                    let next = read_link(&here)?;
                    if next.is_absolute() {
                        return Err(format!(
                            "symlink resolves through {}, whose target is absolute",
                            here.display()
                        ));
                    }
                    for c in next.components().rev() {
                        queue.push_front(c.as_os_str().to_os_string());
                    }
                }
                Ok(_) => {}
                Err(Errno::ENOENT) | Err(Errno::ENOTDIR) if queue.is_empty() => {
                    // A dangling last component: whatever is made there later is itself
                    // checked when made.
                }
                Err(e) => {
                    return Err(format!(
                        "symlink resolves through {}, which cannot be checked: {e}",
                        here.display()
                    ))
                }
            }
        }
        Ok(())
    }

    fn apply_dir_modes(&mut self) -> Result<(), OciError> {
        for (comps, mode) in self.dir_modes.clone().into_iter().rev() {
            let entry = join(&comps).display().to_string();
            let dir = self.open_dir(&comps, false, &entry)?;
            fchmod(dir.as_fd(), Mode::from_bits_truncate(mode as _))
                .map_err(|e| self.io_err(&entry, "chmod", e.into()))?;
        }
        Ok(())
    }

    /// On success the report; on failure remove what was created, newest first.
    fn finish(mut self, result: Result<(), OciError>) -> Result<UnpackReport, OciError> {
        match result {
            Ok(()) => Ok(std::mem::take(&mut self.report)),
            Err(err) => {
                self.rollback();
                Err(err)
            }
        }
    }

    fn rollback(&mut self) {
        for (comps, is_dir) in std::mem::take(&mut self.created).into_iter().rev() {
            let (name, parent) = comps.split_last().expect("non-empty path");
            let Ok(dir) = self.open_dir(parent, false, "(rollback)") else {
                continue;
            };
            let flag = if is_dir {
                UnlinkatFlags::RemoveDir
            } else {
                UnlinkatFlags::NoRemoveDir
            };
            if let Err(e) = unlinkat(&dir, name.as_os_str(), flag) {
                tracing::warn!(layer = self.layer, path = %join(&comps).display(), error = %e, "unpack rollback could not remove");
            }
        }
        if self.created_root {
            if let Err(e) = fs::remove_dir(&self.target) {
                tracing::warn!(layer = self.layer, path = %self.target.display(), error = %e, "unpack rollback could not remove the target");
            }
        }
    }
}
