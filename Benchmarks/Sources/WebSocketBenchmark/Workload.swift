import NIOCore
import WebSocket

/// The stream both clients receive: 1 KiB JSON call events, a few non-ASCII names among them so
/// UTF-8 validation has real work, framed once and replayed by the sender.
enum Workload {
    static let messageSize = 1024

    static func message(_ index: Int) -> String {
        let names = ["Jansen", "Müller", "Ødegård", "Nguyễn", "Smith"]
        var text = #"{"notificationType":"callHungUpEvent","notification":{"initiation":"incoming","#
        text += #""date":"2026-11-27 10:\#(index % 60):00","callId":"call\#(100000 + index)","#
        text += #""callerFlowId":"flow\#(index * 2)","calleeFlowId":"flow\#(index * 2 + 1)","#
        text += #""callerPhoneNumber":"+3120\#(1_000_000 + index)","calleeUser":"\#(names[index % names.count])","#
        text += #""duration":"\#(index % 600)","pad":""#
        let padding = messageSize - text.utf8.count - 3
        text += String(repeating: "x", count: max(0, padding)) + #""}}"#
        return text
    }

    /// `count` different messages framed as a server sends them, compressed each on its own when asked.
    static func frames(count: Int, compressed: Bool) -> ByteBuffer {
        var machine = WebSocketConnectionStateMachine(
            role: .server,
            deflate: compressed ? NegotiatedDeflate(localNoContextTakeover: true, compressionThreshold: 0) : nil
        )
        var chunk = ByteBuffer()
        for index in 0..<count {
            // A server-role machine that is open always encodes; a failure here is a bug in the workload.
            guard var frame = try? machine.send(.text(message(index))) else { fatalError("cannot frame message \(index)") }
            chunk.writeBuffer(&frame)
        }
        return chunk
    }
}
