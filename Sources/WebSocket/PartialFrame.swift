import NIOCore

/// The start of a frame that has not fully arrived, kept between reads in a buffer of the handler's
/// own.
///
/// Keeping a slice of the read instead would keep the channel's read buffer (or TLS's plaintext
/// buffer) from being reused, and every read would then allocate a new one of up to 64 KiB, which
/// glibc hands back to the kernel when it is freed and faults in again on the next read.
struct PartialFrame {
    private var pending: ByteBuffer?
    /// Our emptied buffer, kept for the next partial frame while reads keep coming.
    private var spare: ByteBuffer?

    /// Nothing is waiting for more bytes.
    var isEmpty: Bool { pending == nil }

    /// The bytes to decode now: the read itself when nothing was pending (no copy), otherwise the
    /// pending bytes with the read appended. Hand the result back to ``keep(_:)`` after decoding.
    mutating func bytes(adding read: ByteBuffer) -> Bytes {
        guard var existing = pending else { return Bytes(buffer: read, owned: false) }
        pending = nil  // keep `existing` uniquely referenced while it grows
        existing.writeImmutableBuffer(read)
        return Bytes(buffer: existing, owned: true)
    }

    /// Keeps what decoding left of `bytes`.
    mutating func keep(_ bytes: Bytes) {
        var buffer = bytes.buffer
        if buffer.readableBytes == 0 {
            if bytes.owned {
                buffer.clear()
                spare = buffer
            }
        } else if bytes.owned {
            buffer.discardReadBytes()
            pending = buffer
        } else {
            var own = spare ?? ByteBuffer()
            spare = nil
            own.clear()
            own.writeBuffer(&buffer)
            pending = own
        }
    }

    /// Drops the spare buffer: an idle connection keeps no read memory of its own.
    mutating func releaseSpare() { spare = nil }

    /// Bytes to decode, and whether their buffer is ours (and may be compacted and kept).
    struct Bytes {
        var buffer: ByteBuffer
        let owned: Bool
    }
}
