import NIOCore

/// The header of a frame as read off the wire, before its payload has necessarily arrived.
struct FrameHeader: Equatable {
    var fin: Bool
    var rsv1: Bool
    var opcode: WebSocketOpcode
    /// The masking key as the four bytes in wire order, packed big-endian; nil when unmasked.
    var maskKey: UInt32?
    var payloadLength: Int
    /// Bytes from the start of the frame to the start of the payload (2 to 14).
    var headerLength: Int
}

/// Why a frame could not be decoded; each maps to the close code RFC 6455 asks for.
enum FrameDecodingError: Error, Equatable {
    case reservedBitsSet
    case unknownOpcode(UInt8)
    case controlFrameTooLong(Int)
    case fragmentedControlFrame
    case unexpectedMask
    case missingMask
    case lengthOutOfRange
    case frameTooLarge(Int, limit: Int)

    var closeCode: WebSocketCloseCode {
        if case .frameTooLarge = self { return .messageTooBig }
        return .protocolError
    }

    var reason: String {
        switch self {
        case .reservedBitsSet: return "reserved bits set without a negotiated extension"
        case .unknownOpcode(let code): return "reserved opcode \(code)"
        case .controlFrameTooLong(let length): return "control frame of \(length) bytes (at most 125)"
        case .fragmentedControlFrame: return "fragmented control frame"
        case .unexpectedMask: return "masked frame from the server"
        case .missingMask: return "unmasked frame from the client"
        case .lengthOutOfRange: return "payload length with the most significant bit set"
        case .frameTooLarge(let length, let limit): return "frame of \(length) bytes exceeds the limit of \(limit)"
        }
    }
}

extension FrameHeader {
    /// Reads a header from the front of `buffer` without consuming it; nil until enough bytes are there.
    ///
    /// `allowRSV1` is true when permessage-deflate is in use; whether RSV1 is legal on this particular
    /// frame (first frame of a data message only) is the state machine's call, since it knows the
    /// fragmentation state.
    static func parse(
        _ buffer: ByteBuffer,
        role: WebSocketRole,
        allowRSV1: Bool,
        maxFrameSize: Int
    ) throws(FrameDecodingError) -> FrameHeader? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        let rsv1 = first & 0x40 != 0
        if first & 0x30 != 0 || (rsv1 && !allowRSV1) { throw .reservedBitsSet }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else { throw .unknownOpcode(first & 0x0F) }
        let fin = first & 0x80 != 0
        let masked = second & 0x80 != 0
        switch (role, masked) {
        case (.client, true): throw .unexpectedMask
        case (.server, false): throw .missingMask
        default: break
        }
        var length = Int(second & 0x7F)
        var offset = 2
        if opcode.isControl {
            if !fin { throw .fragmentedControlFrame }
            if length > 125 { throw .controlFrameTooLong(length) }
        }
        if length == 126 {
            guard let value = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(value)
            offset = 4
        } else if length == 127 {
            guard let value = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            if value & (1 << 63) != 0 { throw .lengthOutOfRange }
            // Compare before converting, so an absurd length cannot trap.
            if value > UInt64(maxFrameSize) { throw .frameTooLarge(Int(clamping: value), limit: maxFrameSize) }
            length = Int(value)
            offset = 10
        }
        if length > maxFrameSize { throw .frameTooLarge(length, limit: maxFrameSize) }
        var maskKey: UInt32?
        if masked {
            guard let key = buffer.getInteger(at: start + offset, as: UInt32.self) else { return nil }
            maskKey = key
            offset += 4
        }
        return FrameHeader(
            fin: fin,
            rsv1: rsv1,
            opcode: opcode,
            maskKey: maskKey,
            payloadLength: length,
            headerLength: offset
        )
    }
}
