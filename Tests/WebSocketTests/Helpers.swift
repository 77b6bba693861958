import NIOCore
import Testing

@testable import WebSocket

/// Builds raw frames the way a peer would put them on the wire, including malformed ones.
struct RawFrame {
    var fin = true
    var rsv: UInt8 = 0  // the three reserved bits, already shifted (0x40 = RSV1)
    var opcode: UInt8
    var payload: [UInt8] = []
    var maskKey: UInt32? = nil

    var bytes: [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let mask: UInt8 = maskKey == nil ? 0 : 0x80
        if payload.count < 126 {
            out.append(mask | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out.append(mask | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(mask | 127)
            out += (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
        }
        guard let maskKey else { return out + payload }
        let key = (0..<4).map { UInt8((maskKey >> (24 - 8 * UInt32($0))) & 0xFF) }
        out += key
        out += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        return out
    }

    static func text(_ string: String, fin: Bool = true) -> RawFrame {
        RawFrame(fin: fin, opcode: 1, payload: Array(string.utf8))
    }
    static func continuation(_ bytes: [UInt8], fin: Bool = true) -> RawFrame {
        RawFrame(fin: fin, opcode: 0, payload: bytes)
    }
    static func close(_ code: UInt16?, _ reason: String = "") -> RawFrame {
        guard let code else { return RawFrame(opcode: 8) }
        return RawFrame(opcode: 8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
}

/// Collected results of feeding bytes to a state machine until it wants more.
struct Outcome {
    var messages: [WebSocketMessage] = []
    var sent: [ByteBuffer] = []
    var pongs: [ByteBuffer] = []
    var closed: WebSocketCloseFrame?
    var closeReply: ByteBuffer?
    var failure: WebSocketError?
    var failureFrame: ByteBuffer?

    var failureCode: WebSocketCloseCode? {
        failure?.closeCode
    }
}

extension WebSocketConnectionStateMachine {
    /// Feeds `bytes` (optionally in pieces) and collects every action.
    mutating func feed(_ bytes: [UInt8], splits: [Int] = [], into outcome: inout Outcome, buffer: inout ByteBuffer) {
        var pieces: [[UInt8]] = []
        var start = 0
        for split in splits.sorted() where split > start && split < bytes.count {
            pieces.append(Array(bytes[start..<split]))
            start = split
        }
        pieces.append(Array(bytes[start...]))
        for piece in pieces {
            buffer.writeBytes(piece)
            drain(&buffer, into: &outcome)
        }
    }

    mutating func drain(_ buffer: inout ByteBuffer, into outcome: inout Outcome) {
        while true {
            switch read(&buffer) {
            case .needMoreData: return
            case .deliverText(let text): outcome.messages.append(.text(text.string))
            case .deliverBinary(let data): outcome.messages.append(.binary(data))
            case .send(let bytes): outcome.sent.append(bytes)
            case .pongReceived(let payload): outcome.pongs.append(payload)
            case .closeReceived(let frame, let reply):
                outcome.closed = frame
                outcome.closeReply = reply
            case .fail(let error, let frame):
                outcome.failure = error
                outcome.failureFrame = frame
            }
        }
    }
}

/// Feeds frames to a fresh client-role machine and returns what came out.
func run(
    _ frames: [RawFrame],
    limits: WebSocketConnectionStateMachine.Limits = .init(),
    deflate: NegotiatedDeflate? = nil,
    splits: [Int] = []
) -> Outcome {
    var machine = WebSocketConnectionStateMachine(role: .client, limits: limits, deflate: deflate)
    var outcome = Outcome()
    var buffer = ByteBuffer()
    machine.feed(frames.flatMap(\.bytes), splits: splits, into: &outcome, buffer: &buffer)
    return outcome
}

/// Decodes what a client-role machine sent, as the server would see it.
func decodeSent(_ bytes: ByteBuffer, deflate: NegotiatedDeflate? = nil) -> Outcome {
    var server = WebSocketConnectionStateMachine(role: .server, limits: .init(), deflate: deflate.map(\.mirrored))
    var outcome = Outcome()
    var buffer = bytes
    server.drain(&buffer, into: &outcome)
    return outcome
}

/// The close code carried by an encoded close frame from the client (masked).
func closeCode(of frame: ByteBuffer?) -> UInt16? {
    guard let frame else { return nil }
    let decoded = decodeSent(frame)
    return decoded.closed.map { $0.code.rawValue }
}

extension NegotiatedDeflate {
    /// The same agreement seen from the other side.
    var mirrored: NegotiatedDeflate {
        NegotiatedDeflate(
            peerNoContextTakeover: localNoContextTakeover,
            localNoContextTakeover: peerNoContextTakeover,
            peerMaxWindowBits: localMaxWindowBits == 0 ? 15 : localMaxWindowBits,
            localMaxWindowBits: peerMaxWindowBits,
            compressionThreshold: 0
        )
    }
}
