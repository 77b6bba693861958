import NIOCore

/// Writes frames: the minimal length encoding, and in the client role a fresh random masking key per
/// frame (RFC 6455 §5.3) drawn from the system's cryptographic generator.
enum FrameEncoder {
    /// Appends one frame to `output`. The payload is copied once, masked in place in `output`.
    static func encode(
        opcode: WebSocketOpcode,
        fin: Bool = true,
        rsv1: Bool = false,
        payload: UnsafeRawBufferPointer,
        role: WebSocketRole,
        into output: inout ByteBuffer
    ) {
        let length = payload.count
        output.reserveCapacity(minimumWritableBytes: length + 14)
        output.writeInteger((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode.rawValue)
        let maskBit: UInt8 = role == .client ? 0x80 : 0
        if length < 126 {
            output.writeInteger(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            output.writeInteger(maskBit | 126)
            output.writeInteger(UInt16(length))
        } else {
            output.writeInteger(maskBit | 127)
            output.writeInteger(UInt64(length))
        }
        guard role == .client else {
            output.writeBytes(payload)
            return
        }
        var generator = SystemRandomNumberGenerator()
        let key = UInt32.random(in: .min ... .max, using: &generator)
        output.writeInteger(key)
        let payloadOffset = output.writerIndex - output.readerIndex
        output.writeBytes(payload)
        output.withUnsafeMutableReadableBytes { bytes in
            let region = UnsafeMutableRawBufferPointer(rebasing: bytes[payloadOffset...])
            applyMask(key, to: region)
        }
    }

    static func encode(
        opcode: WebSocketOpcode,
        fin: Bool = true,
        rsv1: Bool = false,
        payload: ByteBuffer,
        role: WebSocketRole,
        into output: inout ByteBuffer
    ) {
        payload.withUnsafeReadableBytes { bytes in
            encode(opcode: opcode, fin: fin, rsv1: rsv1, payload: bytes, role: role, into: &output)
        }
    }

    /// XORs `bytes` with the masking key, which is its own inverse (so this also unmasks).
    /// `key` holds the four key bytes in wire order, packed big-endian.
    static func applyMask(_ key: UInt32, to bytes: UnsafeMutableRawBufferPointer, startingAt phase: Int = 0) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // Rotate the key so that byte 0 of `bytes` lines up with key byte `phase`.
        let rotated = phase % 4 == 0 ? key : (key << (8 * UInt32(phase % 4))) | (key >> (32 - 8 * UInt32(phase % 4)))
        let keyBytes = rotated.bigEndian  // in memory: the key bytes in wire order
        let wide = UInt64(keyBytes) | (UInt64(keyBytes) << 32)
        var index = 0
        while index + 8 <= bytes.count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            base.storeBytes(of: word ^ wide, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        withUnsafeBytes(of: keyBytes) { keyPointer in
            while index < bytes.count {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                base.storeBytes(of: byte ^ keyPointer[index % 4], toByteOffset: index, as: UInt8.self)
                index += 1
            }
        }
    }
}
