import CZlib
import NIOCore

/// Why inflating a message failed.
enum InflateError: Error, Equatable {
    /// The inflated message would exceed the limit; inflation stopped at the limit.
    case tooLarge
    case corrupt(String)
}

/// The four bytes RFC 7692 §7.2.1 strips from the end of every compressed message. Immutable
/// after initialisation, hence safe to share.
nonisolated(unsafe) private let syncFlushTrailer: UnsafeRawBufferPointer = {
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
    bytes.copyBytes(from: [0x00, 0x00, 0xFF, 0xFF])
    return UnsafeRawBufferPointer(bytes)
}()

/// A raw-deflate compressor (RFC 7692 §7.2.1). Costs about `2^(windowBits+2) + 2^(memLevel+9)` bytes
/// while it exists, so connections create it only when a message is big enough to compress.
final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>

    init(windowBits: Int, memoryLevel: Int, level: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // zlib refuses a raw window of 8 bits; negotiation never asks for one (see PerMessageDeflate).
        let result = czlib_deflateInit2(stream, Int32(level), -Int32(max(windowBits, 9)), Int32(memoryLevel))
        precondition(result == Z_OK, "deflateInit2 failed with \(result): out of memory")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses one whole message and appends it to `output`, without the sync-flush trailer.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let start = output.writerIndex
        let bound = Int(deflateBound(stream, UInt(input.count))) + 16
        output.reserveCapacity(minimumWritableBytes: bound)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        repeat {
            if output.writableBytes < 64 { output.reserveCapacity(minimumWritableBytes: 4096) }
            let produced = output.withUnsafeMutableWritableBytes { out -> Int in
                stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = UInt32(out.count)
                let result = deflate(stream, Z_SYNC_FLUSH)
                precondition(result == Z_OK || result == Z_BUF_ERROR, "deflate failed with \(result)")
                return out.count - Int(stream.pointee.avail_out)
            }
            output.moveWriterIndex(forwardBy: produced)
        } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
        stream.pointee.next_in = nil
        // A sync flush always ends in an empty stored block: 00 00 FF FF.
        if output.writerIndex - start >= 4 { output.moveWriterIndex(to: output.writerIndex - 4) }
    }

}

/// A raw-inflate decompressor whose output is capped: it never writes past the limit it is given, so a
/// small message that inflates to gigabytes costs no more memory than the limit.
final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>

    init(windowBits: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let result = czlib_inflateInit2(stream, -Int32(windowBits))
        precondition(result == Z_OK, "inflateInit2 failed with \(result): out of memory")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates `input` (one frame's payload), plus the trailer when `endOfMessage`, appending to
    /// `output`. Throws `.tooLarge` once more than `limit` bytes would have been produced.
    func inflate(
        _ input: UnsafeRawBufferPointer,
        endOfMessage: Bool,
        into output: inout ByteBuffer,
        limit: Int
    ) throws(InflateError) {
        var produced = 0
        try run(input, into: &output, limit: limit, produced: &produced)
        if endOfMessage {
            try run(syncFlushTrailer, into: &output, limit: limit, produced: &produced)
        }
    }

    private func run(
        _ input: UnsafeRawBufferPointer,
        into output: inout ByteBuffer,
        limit: Int,
        produced: inout Int
    ) throws(InflateError) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        defer { stream.pointee.next_in = nil }
        while true {
            // One byte more than the limit allows is enough to learn that the limit is exceeded.
            let room = limit - produced + 1
            if output.writableBytes < min(1024, room) {
                output.reserveCapacity(minimumWritableBytes: min(max(input.count * 4, 1024), room))
            }
            var status: Int32 = Z_OK
            let (made, outAvailable) = output.withUnsafeMutableWritableBytes { out -> (Int, Int) in
                let window = min(out.count, room)
                stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = UInt32(window)
                status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                return (window - Int(stream.pointee.avail_out), Int(stream.pointee.avail_out))
            }
            output.moveWriterIndex(forwardBy: made)
            produced += made
            if produced > limit { throw .tooLarge }
            switch status {
            case Z_STREAM_END:
                // The sender ended the deflate stream (BFINAL); what follows starts a new one.
                inflateReset(stream)
                if stream.pointee.avail_in == 0 { return }
            case Z_OK:
                if stream.pointee.avail_in == 0 && outAvailable > 0 { return }
            case Z_BUF_ERROR:
                // No progress possible: either all input is consumed, or output space ran out.
                if stream.pointee.avail_in == 0 { return }
                if outAvailable > 0 { throw .corrupt("inflate made no progress") }
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw .corrupt(message)
            }
        }
    }

    func reset() { inflateReset(stream) }
}
