import Foundation
import NIOCore

/// An HTTP/1.1 message head, as much of HTTP as the opening handshake needs.
struct HTTPHead: Sendable {
    /// The status line or request line, split on spaces into at most three parts.
    var startLine: [String]
    var headers: [(name: String, value: String)]

    /// Every value of a header, case-insensitively.
    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// Comma-separated tokens of a header, lowercased (for `Connection` and `Upgrade`).
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    /// Reads a head from the front of `buffer`, consuming it and leaving whatever follows (the first
    /// WebSocket frames may share the segment with the 101 response). Nil until the blank line arrives.
    static func read(from buffer: inout ByteBuffer, maxSize: Int = 16 * 1024) throws(WebSocketError) -> HTTPHead? {
        let view = buffer.readableBytesView
        var end: Int?
        var index = view.startIndex
        // Look for CRLFCRLF; a bare LF line end is tolerated.
        while index < view.endIndex {
            if view[index] == 0x0A {
                let next = view.index(after: index)
                if next < view.endIndex, view[next] == 0x0A {
                    end = next + 1
                    break
                }
                if next + 1 < view.endIndex, view[next] == 0x0D, view[next + 1] == 0x0A {
                    end = next + 2
                    break
                }
            }
            index += 1
        }
        guard let end else {
            if buffer.readableBytes > maxSize { throw .handshakeRejected(reason: "response head larger than \(maxSize) bytes") }
            return nil
        }
        let length = end - view.startIndex
        guard let text = buffer.readString(length: length) else { return nil }
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }
        guard let first = lines.first else { throw .handshakeRejected(reason: "empty response") }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw .handshakeRejected(reason: "malformed header line '\(line.prefix(80))'")
            }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return HTTPHead(startLine: first.split(separator: " ", maxSplits: 2).map(String.init), headers: headers)
    }
}
