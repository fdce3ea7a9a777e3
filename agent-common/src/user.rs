//! Userspace decoding of ring-buffer records, in place and without
//! allocation. Every length is checked: a short or inconsistent record is an
//! error, never a panic.

// Records are read out of the ring buffer's bytes: that needs unsafe.
#![allow(unsafe_code)]

use core::mem::size_of;

use crate::{ClockAdjtime, ClockSettime, Header, Kind, LOG_MAX, LogLine, PhcAdjtime, ProcEvent};

/// One record, borrowed from the ring buffer.
#[derive(Clone, Copy, Debug)]
pub enum Decoded<'a> {
    Log {
        hdr: Header,
        fd: u32,
        flags: u32,
        total: u64,
        data: &'a [u8],
    },
    ClockAdjtime(ClockAdjtime),
    ClockSettime(ClockSettime),
    Exec(ProcEvent),
    Exit(ProcEvent),
    PhcAdjtime(PhcAdjtime),
}

/// Why a record could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the kind's fixed part.
    Truncated { kind: u32, len: usize, need: usize },
    /// A kind id this build does not know.
    UnknownKind(u32),
    /// A log record whose `len` exceeds its buffer.
    BadLength(u32),
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated { kind, len, need } => {
                write!(f, "record of kind {kind} has {len} bytes, needs {need}")
            }
            Self::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            Self::BadLength(l) => write!(f, "log record claims {l} bytes of text"),
        }
    }
}

/// Reads a `T` from the start of `buf` if it is long enough.
fn read<T: Copy>(buf: &[u8], kind: u32) -> Result<T, DecodeError> {
    let need = size_of::<T>();
    if buf.len() < need {
        return Err(DecodeError::Truncated {
            kind,
            len: buf.len(),
            need,
        });
    }
    // SAFETY: `buf` holds at least size_of::<T>() bytes (checked above); the
    // record types are #[repr(C)] plain integers and byte arrays, valid for
    // any bit pattern; read_unaligned makes no alignment assumption.
    Ok(unsafe { core::ptr::read_unaligned(buf.as_ptr().cast::<T>()) })
}

/// Decodes one ring-buffer record.
///
/// # Errors
/// The record is shorter than its kind requires, its kind is unknown, or a
/// log record's length is inconsistent.
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let hdr: Header = read(buf, 0)?;
    let Some(kind) = Kind::from_u32(hdr.kind) else {
        return Err(DecodeError::UnknownKind(hdr.kind));
    };
    Ok(match kind {
        Kind::LogLine => {
            let fixed = size_of::<LogLine>() - LOG_MAX;
            if buf.len() < fixed {
                return Err(DecodeError::Truncated {
                    kind: hdr.kind,
                    len: buf.len(),
                    need: fixed,
                });
            }
            let len = hdr.len as usize;
            if len > LOG_MAX || fixed + len > buf.len() {
                return Err(DecodeError::BadLength(hdr.len));
            }
            let word = |at: usize| {
                let mut b = [0u8; 4];
                b.copy_from_slice(&buf[at..at + 4]);
                u32::from_ne_bytes(b)
            };
            let mut t = [0u8; 8];
            t.copy_from_slice(&buf[32..40]);
            Decoded::Log {
                hdr,
                fd: word(24),
                flags: word(28),
                total: u64::from_ne_bytes(t),
                data: &buf[fixed..fixed + len],
            }
        }
        Kind::ClockAdjtime => Decoded::ClockAdjtime(read(buf, hdr.kind)?),
        Kind::ClockSettime => Decoded::ClockSettime(read(buf, hdr.kind)?),
        Kind::Exec => Decoded::Exec(read(buf, hdr.kind)?),
        Kind::Exit => Decoded::Exit(read(buf, hdr.kind)?),
        Kind::PhcAdjtime => Decoded::PhcAdjtime(read(buf, hdr.kind)?),
    })
}

/// A process name as text (up to its first NUL).
#[must_use]
pub fn comm_str(comm: &[u8]) -> &[u8] {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    &comm[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<T: Copy>(v: &T) -> &[u8] {
        // SAFETY: test helper over #[repr(C)] records without padding.
        unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
    }

    #[test]
    fn log_line_round_trip_and_bounds() {
        let mut l = LogLine {
            hdr: Header {
                kind: Kind::LogLine as u32,
                pid: 7,
                tid: 8,
                len: 5,
                ktime_ns: 9,
            },
            fd: 1,
            flags: 0,
            total: 5,
            data: [0; LOG_MAX],
        };
        l.data[..5].copy_from_slice(b"hello");
        let b = bytes_of(&l);
        match decode(b).unwrap() {
            Decoded::Log { hdr, fd, data, .. } => {
                assert_eq!((hdr.pid, hdr.tid, fd), (7, 8, 1));
                assert_eq!(data, b"hello");
            }
            other => panic!("{other:?}"),
        }
        // Cut inside the text, inside the fixed part, inside the header.
        assert_eq!(decode(&b[..42]).err(), Some(DecodeError::BadLength(5)));
        assert!(matches!(
            decode(&b[..30]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            decode(&b[..3]),
            Err(DecodeError::Truncated { .. })
        ));
        l.hdr.len = 10_000;
        assert_eq!(
            decode(bytes_of(&l)).err(),
            Some(DecodeError::BadLength(10_000))
        );
    }

    #[test]
    fn fixed_records_and_unknown_kinds() {
        let a = ClockAdjtime {
            hdr: Header {
                kind: Kind::ClockAdjtime as u32,
                ..Header::default()
            },
            clock_id: 0,
            modes: 0,
            ..ClockAdjtime::default()
        };
        assert!(matches!(decode(bytes_of(&a)), Ok(Decoded::ClockAdjtime(_))));
        assert!(decode(&bytes_of(&a)[..40]).is_err());
        let u = Header {
            kind: 99,
            ..Header::default()
        };
        assert_eq!(
            decode(bytes_of(&u)).err(),
            Some(DecodeError::UnknownKind(99))
        );
        assert_eq!(comm_str(b"ptp4l\0\0\0"), b"ptp4l");
    }
}
